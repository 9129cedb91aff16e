// Cancel requests arrive on a fanout every image-creator hears. A running build is stopped through
// its AbortSignal; a job not started yet is remembered, so its message is dropped when it comes up.
// The memory is bounded and per process: after a restart a cancelled job still queued is built,
// but the frontend refuses its result (the job is already cancelled) and the notifier stays silent.
const REMEMBER_MS = 24 * 3_600_000;
const REMEMBER_MAX = 10_000;

export class Cancellations {
  private readonly running = new Map<string, AbortController>();
  private readonly cancelled = new Map<string, number>();

  start(id: string): AbortSignal {
    const c = new AbortController();
    this.running.set(id, c);
    return c.signal;
  }

  finish(id: string): void {
    this.running.delete(id);
  }

  /** Returns true when a build of that job was running here and has been told to stop. */
  cancel(id: string, now = Date.now()): boolean {
    this.cancelled.set(id, now);
    for (const [k, at] of this.cancelled) {
      if (this.cancelled.size <= REMEMBER_MAX && now - at < REMEMBER_MS) break;
      this.cancelled.delete(k);
    }
    const c = this.running.get(id);
    c?.abort();
    return Boolean(c);
  }

  isCancelled(id: string, now = Date.now()): boolean {
    const at = this.cancelled.get(id);
    return at !== undefined && now - at < REMEMBER_MS;
  }
}
