// One retry schedule for everything that waits for infrastructure: the broker's reconnect and its
// consumers' reopening, and whatever a service's main.ts waits for before it is ready.
// The cap is short on purpose: once the thing answers again, a service should be back within a few
// seconds, not sit out a 15 s sleep. The jitter keeps a fleet of services from retrying in step.

export interface Backoff {
  /** The first delay, before jitter. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** The fraction of each delay that is random: 0.5 gives a delay between half and all of it. Default 0.5. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Readonly<Required<Backoff>> = { initialMs: 250, maxMs: 3000, jitter: 0.5 };

/**
 * The delay before retry number `attempt` (1 after the first failure): doubling from `initialMs`,
 * capped at `maxMs`, then shortened by up to `jitter` of itself. `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const jitter = Math.min(1, Math.max(0, backoff.jitter ?? DEFAULT_BACKOFF.jitter));
  const exp = Math.min(Math.max(0, attempt - 1), 30);
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exp);
  return Math.round(base * (1 - jitter * random()));
}

export interface RetryOptions {
  backoff?: Backoff;
  /** Give up after this many attempts and throw the last error (default: never give up). */
  maxAttempts?: number;
  /** Called before each wait, so the caller can say what failed, where, and when it tries again. */
  onRetry?: (attempt: number, delayMs: number, err: Error) => void;
  /** Aborting stops the retries at once, even in the middle of a wait; the promise rejects. */
  signal?: AbortSignal;
  /** For tests of the schedule: replaces the wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export class RetryAbortedError extends Error {
  constructor() {
    super('retrying was stopped');
  }
}

/** Runs `fn` until it resolves, waiting `backoffDelay(n)` after the n-th failure. */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const wait = opts.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new RetryAbortedError();
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw new RetryAbortedError();
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) throw err;
      const delay = backoffDelay(attempt, opts.backoff, opts.random);
      opts.onRetry?.(attempt, delay, err instanceof Error ? err : new Error(String(err)));
      await wait(delay, opts.signal);
    }
  }
}

/** Resolves after `ms`, or at once when the signal is aborted (the caller then sees `aborted`). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
