// Queue positions and estimated start times, from the durations of recent builds.
// The estimate plays the queue forward: each build slot frees when its running build is expected
// to end, and each waiting job, oldest first, takes the slot that frees first.
import type { JobSummary } from './job-summary.ts';

export interface QueueSpot {
  /** 1 for the next job to start. */
  position: number;
  /** Undefined while no build has finished yet to learn from. */
  startAt?: Date;
}

export interface QueueEstimate {
  spots: Map<string, QueueSpot>;
  /** Median duration of the recent builds, in seconds. */
  typicalBuildS?: number;
  waiting: number;
  building: number;
}

const RECENT_BUILDS = 20;

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * What a build's duration depends on besides its kickstart: a sid build installs other packages than
 * a bookworm one, and an arm64 build runs its programs under emulation, several times slower.
 */
const buildKind = (j: JobSummary) => `${j.suite ?? ''}/${j.arch ?? 'amd64'}`;

/** `jobs` newest first, as the index keeps them. */
export function estimateQueue(jobs: readonly JobSummary[], opts: { slots: number; now: Date }): QueueEstimate {
  const durations: number[] = [];
  const byKind = new Map<string, number[]>();
  const waiting: JobSummary[] = [];
  const building: JobSummary[] = [];
  for (const j of jobs) {
    if (j.status === 'queued' || j.status === 'kickstarting') waiting.push(j);
    else if (j.status === 'building') building.push(j);
    else if (j.status === 'done' && j.duration_s !== undefined) {
      if (durations.length < RECENT_BUILDS) durations.push(j.duration_s);
      const same = byKind.get(buildKind(j)) ?? [];
      if (same.length < RECENT_BUILDS) byKind.set(buildKind(j), [...same, j.duration_s]);
    }
  }
  waiting.reverse();
  const typical = median(durations);
  // A job's own kind's recent builds when there are some, all recent builds otherwise.
  const typicalOf = (j: JobSummary) => median(byKind.get(buildKind(j)) ?? []) ?? typical;
  const spots = new Map<string, QueueSpot>();
  const now = opts.now.getTime();
  // Running builds hold their slots until they are expected to end (at least a few seconds from now).
  const slots = Math.max(opts.slots, building.length);
  const freeAt = building.map((b) => {
    const t = typicalOf(b);
    return t === undefined ? now : Math.max(now + 5000, (b.started ?? b.created).getTime() + t * 1000);
  });
  while (freeAt.length < slots) freeAt.push(now);
  waiting.forEach((j, i) => {
    const t = typicalOf(j);
    if (t === undefined) {
      spots.set(j.id, { position: i + 1 });
      return;
    }
    freeAt.sort((a, b) => a - b);
    const start = freeAt[0]!;
    freeAt[0] = start + t * 1000;
    spots.set(j.id, { position: i + 1, startAt: new Date(start) });
  });
  return { spots, ...(typical !== undefined ? { typicalBuildS: typical } : {}), waiting: waiting.length, building: building.length };
}

/** The estimate for the index's current version, worked out again when the index changes or time moves on. */
export class QueueEstimator {
  private cached: { version: number; at: number; value: QueueEstimate } | undefined;

  constructor(private readonly source: { version: number; all(): readonly JobSummary[] }, private readonly slots: number) {}

  current(): QueueEstimate {
    const now = Date.now();
    const jobs = this.source.all();
    if (this.cached && this.cached.version === this.source.version && now - this.cached.at < 5000) return this.cached.value;
    const value = estimateQueue(jobs, { slots: this.slots, now: new Date(now) });
    this.cached = { version: this.source.version, at: now, value };
    return value;
  }
}
