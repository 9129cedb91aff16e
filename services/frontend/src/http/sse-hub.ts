// Server-sent event streams, all held in one place so shutdown can end them (an open stream
// would otherwise keep server.close() waiting for ever) and their number can be capped.
import type { Request, Response } from 'express';

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

  constructor(private readonly max: number) {}

  get size(): number {
    return this.streams.size;
  }

  /** Undefined when the cap is reached or the server is stopping; the caller answers 503. */
  open(req: Request, res: Response): SseStream | undefined {
    if (this.shuttingDown || this.streams.size >= this.max) return undefined;
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
