// The frontend's side of a build's log, wherever the build runs: while the job is running, from the
// job's stream on RabbitMQ (log-writer.ts); once it is over, from the store, where the build keeps
// the log whole. Both hold the same bytes at the same offsets, so a client following the log with
// `?offset=` (or an EventSource's Last-Event-ID) goes on across the switch without a gap or a repeat.
//
// One reader per job and frontend process, however many people watch: it follows the stream from
// its start into memory (a log is capped by IMG_MAX_LOG_MB) and is dropped once nobody asked for a
// while, or when the stream ends.
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Broker } from '../broker/index.ts';
import { logChunkMessage } from '../contracts/index.ts';
import { jobKeys } from '../layout/index.ts';
import type { Logger } from '../logging/index.ts';
import { RangeNotSatisfiable, type Storage } from '../storage/index.ts';
import { logStreamName, STREAM_PREFETCH } from './stream.ts';

export interface LogRead {
  text: string;
  /** Where the next read starts (the offset plus the bytes of `text`). */
  next: number;
  /** The log's size as known now. */
  size: number;
}

interface Tail {
  buf: Buffer;
  size: number;
  /** The end mark came: the log is whole in the store. */
  ended: boolean;
  /** The stream is gone (deleted at the job's end) or could not be read. */
  gone: boolean;
  used: number;
  ch?: Channel;
  listeners: Set<() => void>;
}

export interface LiveLogOptions {
  /** A reader nobody used for this long is dropped. */
  idleMs?: number;
  /** A stream found missing is not looked for again sooner than this. */
  absentMs?: number;
}

export class LiveLogs {
  private readonly tails = new Map<string, Tail>();
  private readonly opening = new Map<string, Promise<Tail | undefined>>();
  private readonly absent = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly idleMs: number;
  private readonly absentMs: number;
  private stopped = false;

  constructor(private readonly broker: Pick<Broker, 'openChannel'>, private readonly storage: Storage, private readonly log: Logger, opts: LiveLogOptions = {}) {
    this.idleMs = opts.idleMs ?? 30_000;
    this.absentMs = opts.absentMs ?? 1000;
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.idleMs, 10_000));
    this.sweeper.unref();
  }

  /**
   * Up to `max` bytes of the job's log from `offset`, cut before a character split in two.
   * `finished`: the job is over, so its log is read from the store (where the build put it before
   * it reported the outcome).
   */
  async read(id: string, offset: number, max: number, finished: boolean): Promise<LogRead> {
    if (finished) {
      const stored = await this.fromStore(id, offset, max);
      if (stored) return stored;
    }
    const tail = await this.tail(id);
    if (tail && !(tail.gone && tail.size <= offset)) return slice(tail.buf.subarray(0, tail.size), offset, max);
    return (await this.fromStore(id, offset, max)) ?? { text: '', next: offset, size: 0 };
  }

  /** The end of the log, at most `max` bytes, starting on a line. */
  async tailText(id: string, max: number, finished: boolean): Promise<{ text: string; truncated: boolean; size: number }> {
    const size = await this.size(id, finished);
    const from = Math.max(0, size - max);
    const { text } = await this.read(id, from, max, finished);
    if (from === 0) return { text, truncated: false, size };
    const nl = text.indexOf('\n');
    return { text: nl >= 0 ? text.slice(nl + 1) : text, truncated: true, size };
  }

  /** The log's size as known now: the store's once finished, else what the stream holds. */
  async size(id: string, finished: boolean): Promise<number> {
    if (finished) {
      const st = await this.storage.stat(jobKeys(id).log);
      if (st) return st.size;
    }
    const tail = await this.tail(id);
    if (tail && !tail.gone) return tail.size;
    return (await this.storage.stat(jobKeys(id).log))?.size ?? tail?.size ?? 0;
  }

  /** Calls `fn` whenever the job's live log grows or ends; returns the function that stops it. */
  watch(id: string, fn: () => void): () => void {
    const t = this.tails.get(id);
    if (!t) return () => {};
    t.listeners.add(fn);
    return () => t.listeners.delete(fn);
  }

  /** Stops every reader (shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.tails.keys()].map((id) => this.drop(id)));
  }

  private async fromStore(id: string, offset: number, max: number): Promise<LogRead | undefined> {
    const key = jobKeys(id).log;
    let got;
    try {
      got = await this.storage.get(key, { start: offset, end: offset + max - 1 });
    } catch (err) {
      if (err instanceof RangeNotSatisfiable) return { text: '', next: Math.min(offset, err.size), size: err.size };
      throw err;
    }
    if (!got) return undefined;
    const parts: Buffer[] = [];
    for await (const c of got.body) parts.push(c as Buffer);
    const bytes = Buffer.concat(parts);
    return slice(bytes, offset, max, offset, got.size);
  }

  private async tail(id: string): Promise<Tail | undefined> {
    const t = this.tails.get(id);
    if (t) {
      t.used = Date.now();
      return t;
    }
    if (this.stopped || Date.now() - (this.absent.get(id) ?? 0) < this.absentMs) return undefined;
    let p = this.opening.get(id);
    if (!p) {
      p = this.open(id).finally(() => this.opening.delete(id));
      this.opening.set(id, p);
    }
    return p;
  }

  private async open(id: string): Promise<Tail | undefined> {
    const name = logStreamName(id);
    let ch: Channel;
    try {
      ch = await this.broker.openChannel();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live log: no broker channel');
      return undefined;
    }
    ch.on('error', () => {});
    try {
      // A missing stream closes the channel with a 404: the build has not started, or is over.
      await ch.checkQueue(name);
    } catch {
      this.absent.set(id, Date.now());
      await ch.close().catch(() => {});
      return undefined;
    }
    const t: Tail = { buf: Buffer.alloc(64 * 1024), size: 0, ended: false, gone: false, used: Date.now(), ch, listeners: new Set() };
    const tell = () => {
      for (const fn of t.listeners) fn();
    };
    ch.on('close', () => {
      t.gone = true;
      t.ch = undefined;
      tell();
    });
    await ch.prefetch(STREAM_PREFETCH);
    await ch.consume(name, (m: ConsumeMessage | null) => {
      if (!m) {
        // The broker cancelled the consumer: the stream was deleted (the job is over).
        t.gone = true;
        void ch.close().catch(() => {});
        tell();
        return;
      }
      ch.ack(m);
      const parsed = logChunkMessage.safeParse(safeJson(m.content));
      if (!parsed.success) return;
      const c = parsed.data;
      if (c.kind === 'end') {
        t.ended = true;
        tell();
        return;
      }
      if (c.kind !== 'text') return;
      const bytes = Buffer.from(c.text);
      // Bytes sent twice are taken once; a gap (a chunk that never came) is not papered over.
      if (c.offset > t.size || c.offset + bytes.length <= t.size) return;
      const add = bytes.subarray(t.size - c.offset);
      if (t.size + add.length > t.buf.length) {
        const grown = Buffer.alloc(Math.max(t.buf.length * 2, t.size + add.length));
        t.buf.copy(grown, 0, 0, t.size);
        t.buf = grown;
      }
      add.copy(t.buf, t.size);
      t.size += add.length;
      tell();
    }, { noAck: false, arguments: { 'x-stream-offset': 'first' } }).catch((err: Error) => {
      t.gone = true;
      this.log.warn({ err: err.message, stream: name }, 'live log: could not follow the stream');
    });
    this.tails.set(id, t);
    return t;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, t] of this.tails) {
      const idle = now - t.used > this.idleMs && t.listeners.size === 0;
      if (idle || ((t.ended || t.gone) && t.listeners.size === 0 && now - t.used > 1000)) void this.drop(id);
    }
    for (const [id, at] of this.absent) if (now - at > this.absentMs) this.absent.delete(id);
  }

  private async drop(id: string): Promise<void> {
    const t = this.tails.get(id);
    this.tails.delete(id);
    if (t?.ch) await t.ch.close().catch(() => {});
  }
}

/**
 * `max` bytes at most of `bytes` from `offset`, as text that stops before a character cut in two;
 * `base` is the offset of bytes[0] in the log, `size` the log's size.
 */
export function slice(bytes: Buffer, offset: number, max: number, base = 0, size = base + bytes.length): LogRead {
  const from = offset - base;
  if (from >= bytes.length) return { text: '', next: Math.min(offset, size), size };
  const buf = bytes.subarray(from, Math.min(bytes.length, from + max));
  let end = buf.length;
  if (offset + end < size) {
    let i = end - 1;
    while (i >= 0 && end - i <= 4 && (buf[i]! & 0xc0) === 0x80) i--;
    if (i >= 0) {
      const lead = buf[i]!;
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      if (end - i < need) end = i;
    }
  }
  return { text: buf.subarray(0, end).toString('utf8'), next: offset + end, size };
}

function safeJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}
