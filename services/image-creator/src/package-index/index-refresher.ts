// Keeps the package index fresh: every IMG_PACKAGE_INDEX_POLL_S it reads the units that are stale (read
// more than IMG_PACKAGE_INDEX_REFRESH_H ago), that a submission wanted, or that the operator preloads,
// one container per architecture. Several image-creators share the database: a reading holds the
// architecture's DocLock, so one reads while the others skip (or, at build time, wait and find it read).
import type { Logger } from '@img/shared/logging';
import type { DocLock } from '@img/shared/jobs';
import { unitKey, type IndexUnit, type PackageIndexStore } from '@img/shared/packages';
import type { IndexReading } from './read-index.ts';

export interface RefresherOptions {
  store: Pick<PackageIndexStore, 'due' | 'readTimes' | 'save' | 'failed' | 'want'>;
  /** Short wait: a periodic round skips an architecture another image-creator is reading. */
  tryLock: Pick<DocLock, 'with'>;
  /** Long wait: a build that needs the lists waits for the reading in progress. */
  waitLock: Pick<DocLock, 'with'>;
  read: (units: readonly IndexUnit[]) => Promise<IndexReading>;
  log: Logger;
  maxAgeMs: number;
  pollMs: number;
  preload: readonly IndexUnit[];
  /** Told of every reading saved (the prepared bases of those suites are made again). */
  onRead?: (units: readonly IndexUnit[]) => void;
}

export class IndexRefresher {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: RefresherOptions) {}

  /** Marks the preloaded units wanted and starts the rounds, the first one now. */
  async start(): Promise<void> {
    if (this.o.preload.length > 0) await this.o.store.want(this.o.preload);
    this.kick();
    this.timer = setInterval(() => this.kick(), this.o.pollMs);
    this.timer.unref();
  }

  /** No new round; one in progress ends when its container is removed with the other orphans. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private kick(): void {
    if (this.round || this.stopped) return;
    this.round = this.refreshDue()
      .catch((err: Error) => this.o.log.warn({ err: err.message }, 'package index: refresh round failed'))
      .finally(() => { this.round = undefined; });
  }

  /** One round: every due unit, an architecture at a time, skipping those another image-creator is reading. */
  async refreshDue(): Promise<void> {
    const due = await this.o.store.due(this.o.maxAgeMs, this.o.pollMs * 10);
    for (const arch of [...new Set(due.map((u) => u.architecture))]) {
      if (this.stopped) return;
      const units = due.filter((u) => u.architecture === arch);
      try {
        await this.o.tryLock.with(`package-index/${arch}`, () => this.readStale(units));
      } catch (err) {
        // A failed reading was logged where it failed; a held lock is another image-creator reading.
        if (/stayed locked/.test((err as Error).message)) this.o.log.debug({ arch }, 'package index: another image-creator is reading this architecture; skipped this round');
      }
    }
  }

  /**
   * At build time: the units are read now unless they are in the store (read by anyone, at any time).
   * Waits for another image-creator's reading rather than reading the same lists twice.
   */
  async ensure(units: readonly IndexUnit[]): Promise<void> {
    for (const arch of [...new Set(units.map((u) => u.architecture))]) {
      const mine = units.filter((u) => u.architecture === arch);
      await this.o.waitLock.with(`package-index/${arch}`, async () => {
        const have = await this.o.store.readTimes(mine);
        const missing = mine.filter((u) => !have.has(unitKey(u)));
        if (missing.length > 0) await this.readAndSave(missing);
      });
    }
  }

  /** Inside the lock: only what is still stale (another instance may have just read it). */
  private async readStale(units: readonly IndexUnit[]): Promise<void> {
    const times = await this.o.store.readTimes(units);
    const now = Date.now();
    const stale = units.filter((u) => {
      const t = times.get(unitKey(u));
      return !t || now - t.getTime() >= this.o.maxAgeMs;
    });
    if (stale.length > 0) await this.readAndSave(stale);
  }

  private async readAndSave(units: readonly IndexUnit[]): Promise<void> {
    try {
      const reading = await this.o.read(units);
      for (const u of reading.units) await this.o.store.save(u.unit, u.packages, reading.readAt);
      this.o.onRead?.(reading.units.map((u) => u.unit));
    } catch (err) {
      const message = (err as Error).message;
      this.o.log.warn({ units: units.map(unitKey), err: message }, 'package index: the package lists could not be read');
      for (const u of units) await this.o.store.failed(u, message).catch(() => {});
      throw err;
    }
  }
}
