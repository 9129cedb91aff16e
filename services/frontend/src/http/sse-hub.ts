// Server-sent event streams, all held in one place so shutdown can end them (an open stream
// would otherwise keep server.close() waiting for ever) and their number can be capped, in all
// and per client address (so one client cannot hold every stream).
import type { Request, Response } from 'express';
import { clientKey } from '../jobs/fair-share.ts';

export interface SseStream {
  send(event: string, data: unknown, id?: string | number): void;
  /** Runs when the stream ends, whichever side ends it. */
  onClose(fn: () => void): void;
  close(): void;
  readonly closed: boolean;
}

const HEARTBEAT_MS = 15_000;

export class SseHub {
  private readonly streams = new Set<SseStream>();
  private heartbeat: NodeJS.Timeout | undefined;
  private shuttingDown = false;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly max: number, private readonly maxPerClient = max) {}

  get size(): number {
    return this.streams.size;
  }

  /** Streams open from this request's client address. */
  heldBy(req: Request): number {
    return this.perClient.get(clientKey(req.ip)) ?? 0;
  }

  /** Why `open` would refuse this request now, or undefined when it would not. */
  refusal(req: Request): { status: 429 | 503; code: string; message: string } | undefined {
    if (this.shuttingDown) return { status: 503, code: 'busy', message: 'the server is restarting; reload the page in a moment' };
    const held = this.heldBy(req);
    if (held >= this.maxPerClient) {
      return { status: 429, code: 'too_many_streams', message: `your client address has ${held} live connections open, and the limit per client address is ${this.maxPerClient}; close a page or a stream and reload` };
    }
    if (this.streams.size >= this.max) return { status: 503, code: 'busy', message: 'too many live connections right now; reload the page to see the latest state' };
    return undefined;
  }

  /** Undefined when a cap is reached or the server is stopping; `refusal(req)` says which, for the answer. */
  open(req: Request, res: Response): SseStream | undefined {
    if (this.refusal(req)) return undefined;
    const client = clientKey(req.ip);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const closers: Array<() => void> = [];
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
      if (this.streams.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
      for (const fn of closers.splice(0)) fn();
    };
    const stream: SseStream = {
      send(event, data, id) {
        if (closed) return;
        res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      onClose(fn) {
        if (closed) fn();
        else closers.push(fn);
      },
      close() {
        if (closed) return;
        finish();
        res.end();
      },
      get closed() {
        return closed;
      },
    };
    res.on('close', finish);
    this.streams.add(stream);
    // An event now and then keeps proxies from timing the stream out.
    this.heartbeat ??= setInterval(() => {
      for (const s of this.streams) s.send('ping', {});
    }, HEARTBEAT_MS).unref();
    res.write('retry: 3000\n\n');
    return stream;
  }

  /** Ends every stream and refuses new ones: called first at shutdown. */
  closeAll(): void {
    this.shuttingDown = true;
    for (const s of [...this.streams]) {
      s.send('shutdown', { reason: 'the server is restarting' });
      s.close();
    }
  }
}
