// Graceful shutdown: stop taking work, finish or hand back what is in flight, close connections.
import type { Logger } from '../logging/index.ts';

export * from './backoff.ts';

export type ShutdownStep = { name: string; run: () => Promise<void> };

/**
 * Returns a function that runs the steps in order, once: calling it again (a second signal)
 * returns the same promise. Each step gets a time limit so one hung close cannot keep the process up.
 */
export function createShutdown(log: Logger, steps: ShutdownStep[], opts: { stepTimeoutMs?: number } = {}): (reason: string) => Promise<void> {
  let done: Promise<void> | undefined;
  const limit = opts.stepTimeoutMs ?? 15_000;
  return (reason: string) => {
    done ??= (async () => {
      log.info({ reason }, 'shutting down');
      for (const step of steps) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            step.run(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
            }),
          ]);
        } catch (err) {
          log.warn({ step: step.name, err: (err as Error).message }, 'shutdown step failed');
        } finally {
          clearTimeout(timer);
        }
      }
      log.info('shut down');
    })();
    return done;
  };
}

/** Installs SIGINT/SIGTERM handlers; only main.ts calls this. */
export function onSignals(shutdown: (reason: string) => Promise<void>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void shutdown(sig).finally(() => process.exit(0));
    });
  }
}

/** What a service's `start(config)` returns: stopping it is safe to call twice. */
export interface RunningService {
  stop(reason?: string): Promise<void>;
}

/**
 * The body of every main.ts: starts the service, and stops it on SIGINT/SIGTERM. A service that
 * cannot start says why in its log and exits with 1.
 */
export async function runMain(log: Logger, start: () => Promise<RunningService>): Promise<void> {
  try {
    const service = await start();
    onSignals((reason) => service.stop(reason));
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'could not start');
    process.exit(1);
  }
}
