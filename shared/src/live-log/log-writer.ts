// The build's side of a live log: what the build prints goes into the job's own stream queue on
// RabbitMQ, in chunks that name their byte offset, so any frontend on any host can follow it while
// it runs. A stream keeps what was written and lets each reader start where it likes, which is what
// a log is; a queue per job keeps one job's readers from reading every other job's log.
//
// A later attempt (the first host died) reads what the stream already holds, up to a mark of its
// own, and goes on from there: the offsets stay one sequence, and the log kept at the end is whole.
// Publishing is confirmed; a chunk whose confirm is lost is sent again, and readers skip the bytes
// they already have (their offset says so).
import { randomBytes } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Broker } from '../broker/index.ts';
import { CONTRACT_VERSION, logChunkMessage, type LogChunkMessage } from '../contracts/index.ts';
import type { Logger } from '../logging/index.ts';
import { abortableSleep } from '../lifecycle/backoff.ts';
import { declareLogStream, deleteLogStream, logStreamName, STREAM_PREFETCH } from './stream.ts';

export interface LogWriterOptions {
  /** How long text may wait before it is published: the live view's delay. */
  flushMs?: number;
  /** Largest chunk, in bytes of text. */
  maxChunkBytes?: number;
}

type Channels = Pick<Broker, 'openChannel'>;

export class LiveLogWriter {
  /** Text not yet published, in pieces as written (never joined whole: a flood of output stays linear). */
  private pending: string[] = [];
  private pendingBytes = 0;
  private offset = 0;
  private ch?: ConfirmChannel;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private closed = false;
  private readonly stopped = new AbortController();
  private readonly flushMs: number;
  private readonly maxChunk: number;
  private readonly name: string;

  constructor(private readonly broker: Channels, readonly id: string, private readonly log: Logger, opts: LogWriterOptions = {}) {
    this.flushMs = opts.flushMs ?? 250;
    this.maxChunk = opts.maxChunkBytes ?? 256 * 1024;
    this.name = logStreamName(id);
  }

  /**
   * Declares the job's stream. On a later attempt, returns the log the earlier attempts left in it
   * (the caller writes it first into its own copy), and goes on from its end; '' on a first attempt.
   */
  async open(attempt: number): Promise<string> {
    const ch = await this.channel();
    await declareLogStream(ch, this.id);
    if (attempt <= 1) return '';
    const earlier = await this.readBack(attempt);
    this.offset = Buffer.byteLength(earlier);
    return earlier;
  }

  /** Bytes written so far, this attempt's and the earlier ones'. */
  get size(): number {
    return this.offset + this.pendingBytes;
  }

  /** Text for the live view; published within flushMs, in order. */
  write(text: string): void {
    if (this.closed || !text) return;
    this.pending.push(text);
    this.pendingBytes += Buffer.byteLength(text);
    if (this.pendingBytes >= this.maxChunk) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Publishes what is pending, one chunk at a time; resolves when the broker has confirmed it all. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      // Whole pieces up to the chunk's size; a piece larger than a chunk is cut between characters.
      let count = 0;
      let bytes = 0;
      for (const p of this.pending) {
        const b = Buffer.byteLength(p);
        if (count > 0 && bytes + b > this.maxChunk) break;
        count++;
        bytes += b;
        if (bytes >= this.maxChunk) break;
      }
      const text = this.pending.slice(0, count).join('');
      const chunks: string[] = [];
      if (bytes <= this.maxChunk) chunks.push(text);
      else for (let rest = text; rest; ) {
        const head = cut(rest, this.maxChunk);
        chunks.push(head);
        rest = rest.slice(head.length);
      }
      for (const chunk of chunks) {
        await this.send({ kind: 'text', id: this.id, offset: this.offset, text: chunk, version: CONTRACT_VERSION });
        const n = Buffer.byteLength(chunk);
        this.offset += n;
        this.pendingBytes -= n;
      }
      this.pending.splice(0, count);
    }
  }

  /**
   * The log is whole and stored: readers that reach the end may stop following the stream. Call it
   * after the log is in the store, before the outcome is published.
   */
  async end(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.send({ kind: 'end', id: this.id, size: this.offset, version: CONTRACT_VERSION });
  }

  /** Deletes the stream: the job is over and its log is in the store. */
  async remove(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    try {
      const ch = await this.channel();
      await deleteLogStream(ch, this.id);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, stream: this.name }, 'could not delete the live log stream');
    }
    await this.close();
  }

  /** Stops without publishing what is pending (the build is handed back; the next attempt goes on). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopped.abort();
    const ch = this.ch;
    this.ch = undefined;
    await ch?.close().catch(() => {});
  }

  private async channel(): Promise<ConfirmChannel> {
    if (this.ch) return this.ch;
    const ch = await this.broker.openChannel({ confirm: true });
    ch.on('error', (err: Error) => this.log.debug({ err: err.message, stream: this.name }, 'live log channel error'));
    ch.on('close', () => {
      if (this.ch === ch) this.ch = undefined;
    });
    this.ch = ch;
    return ch;
  }

  /** Publishes one message and waits for its confirm; on a lost channel, opens another and sends it again. */
  private async send(msg: LogChunkMessage): Promise<void> {
    const body = Buffer.from(JSON.stringify(logChunkMessage.parse(msg)));
    for (let attempt = 1; ; attempt++) {
      try {
        const ch = await this.channel();
        await new Promise<void>((resolve, reject) => {
          ch.publish('', this.name, body, { persistent: true, contentType: 'application/json' }, (err) => (err ? reject(err) : resolve()));
        });
        return;
      } catch (err) {
        if (this.stopped.signal.aborted) return;
        const ch = this.ch;
        this.ch = undefined;
        await ch?.close().catch(() => {});
        this.log.warn({ err: (err as Error).message, stream: this.name, attempt }, 'live log chunk not confirmed, sending it again');
        await abortableSleep(Math.min(3000, 200 * 2 ** attempt), this.stopped.signal).catch(() => {});
        if (this.stopped.signal.aborted) return;
      }
    }
  }

  /** Reads the stream from its start up to a mark this attempt puts at its end; returns its text. */
  private async readBack(attempt: number): Promise<string> {
    const nonce = randomBytes(16).toString('hex');
    await this.send({ kind: 'resume', id: this.id, attempt, nonce, version: CONTRACT_VERSION });
    const ch: Channel = await this.broker.openChannel();
    try {
      await ch.prefetch(STREAM_PREFETCH);
      let buf = Buffer.alloc(0);
      await new Promise<void>((resolve, reject) => {
        ch.on('close', () => reject(new Error(`the live log stream ${this.name} closed while it was read back`)));
        void ch.consume(this.name, (m: ConsumeMessage | null) => {
          if (!m) return reject(new Error(`the live log stream ${this.name} went away while it was read back`));
          ch.ack(m);
          const parsed = logChunkMessage.safeParse(safeJson(m.content));
          if (!parsed.success) return;
          const c = parsed.data;
          if (c.kind === 'resume' && c.nonce === nonce) return resolve();
          if (c.kind !== 'text') return;
          const bytes = Buffer.from(c.text);
          // A chunk sent twice, or overlapping what is there, adds only its new bytes.
          if (c.offset <= buf.length && c.offset + bytes.length > buf.length) buf = Buffer.concat([buf, bytes.subarray(buf.length - c.offset)]);
        }, { noAck: false, arguments: { 'x-stream-offset': 'first' } }).catch(reject);
      });
      return buf.toString('utf8');
    } finally {
      await ch.close().catch(() => {});
    }
  }
}

/** At most `max` bytes of text from its start (at least one character), cut between characters. */
export function cut(text: string, max: number): string {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    // The bytes Buffer.from gives each: a lone surrogate becomes U+FFFD, three bytes.
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + n > max) return text.slice(0, i > 0 ? i : pair ? 2 : 1);
    bytes += n;
    if (pair) i++;
  }
  return text;
}

function safeJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}
