// Queue positions and estimated start and finish times, from the durations of recent builds of each
// job's own kind (build-durations.ts) and the build slots the image-creators offer (build-slots.ts).
// The estimate plays the queue forward: each slot frees when its running build is expected to end,
// and each waiting job, oldest first, takes the slot that frees first.
import { BuildDurations, countsAsBuild, type Typical } from './build-durations.ts';
import type { BuildStart } from '@img/shared/contracts';
import type { JobSummary } from './job-summary.ts';

export interface QueueSpot {
  /** 1 for the next job to start; 0 for a job building now. */
  position: number;
  /** Undefined while no build has finished yet to learn from, and for a job already building. */
  startAt?: Date;
  finishAt?: Date;
  /** The build time expected, and the past builds it came from. */
  typical?: Typical;
}

export interface QueueEstimate {
  spots: Map<string, QueueSpot>;
  /** Median duration of the recent builds of any kind, in seconds. */
  typicalBuildS?: number;
  waiting: number;
  building: number;
  slots: number;
}

/** A build that has run past its expected time is expected to end a little later, not in the past. */
const OVERDUE_MARGIN_MS = 5000;

const isWaiting = (j: JobSummary) => j.status === 'queued' || j.status === 'kickstarting';

/** `jobs` newest first, as the index keeps them. */
export function estimateQueue(jobs: readonly JobSummary[], opts: { slots: number; now: Date }): QueueEstimate {
  const starts = inferStarts(jobs);
  const durations = new BuildDurations(jobs, starts);
  const waiting: JobSummary[] = [];
  const building: JobSummary[] = [];
  // A request identical to one that finished is answered at once from its image.
  const doneHashes = new Set<string>();
  for (const j of jobs) {
    if (isWaiting(j)) waiting.push(j);
    else if (j.status === 'building') building.push(j);
    else if (j.status === 'done' && j.request_hash) doneHashes.add(j.request_hash);
  }
  waiting.reverse();
  const now = opts.now.getTime();
  const spots = new Map<string, QueueSpot>();
  // When the build of each request hash now running or waiting is expected to end: an identical request waits for it.
  const hashEnds = new Map<string, number>();
  const kindOf = (j: JobSummary) => {
    const start = j.start ?? starts.get(j.id);
    return { type: j.type, arch: j.arch ?? 'amd64', ...(start ? { start } : {}) };
  };

  const slots = Math.max(1, opts.slots, building.length);
  const freeAt: number[] = [];
  for (const b of building) {
    const t = durations.typical(kindOf(b));
    const began = (b.started ?? b.created).getTime();
    const end = t === undefined ? undefined : Math.max(now + OVERDUE_MARGIN_MS, began + t.seconds * 1000);
    freeAt.push(end ?? now);
    if (end !== undefined && b.request_hash) hashEnds.set(b.request_hash, end);
    // Its start is a fact now (the job's `started`): only its end is estimated.
    spots.set(b.id, { position: 0, ...(end !== undefined ? { finishAt: new Date(end), typical: t } : {}) });
  }
  while (freeAt.length < slots) freeAt.push(now);

  waiting.forEach((j, i) => {
    const position = i + 1;
    freeAt.sort((a, b) => a - b);
    const start = freeAt[0]!;
    const hash = j.request_hash;
    if (hash && doneHashes.has(hash)) {
      // Answered from the finished build's image as soon as it is taken: it holds a slot for a moment only.
      spots.set(j.id, { position, startAt: new Date(start), finishAt: new Date(start), typical: { seconds: 0, basis: 'identical to a finished build' } });
      return;
    }
    const twinEnd = hash ? hashEnds.get(hash) : undefined;
    if (twinEnd !== undefined) {
      // Waits, holding its slot, for the identical build before it, then shares its image.
      const end = Math.max(start, twinEnd);
      freeAt[0] = end;
      spots.set(j.id, { position, startAt: new Date(start), finishAt: new Date(end), typical: { seconds: 0, basis: 'identical to a build before it' } });
      return;
    }
    const t = durations.typical(kindOf(j));
    if (t === undefined) {
      spots.set(j.id, { position });
      return;
    }
    const end = start + t.seconds * 1000;
    freeAt[0] = end;
    if (hash) hashEnds.set(hash, end);
    spots.set(j.id, { position, startAt: new Date(start), finishAt: new Date(end), typical: t });
  });
  const all = durations.overall();
  return { spots, ...(all !== undefined ? { typicalBuildS: all } : {}), waiting: waiting.length, building: building.length, slots };
}

/**
 * How each build started, or will start, where image-creator has not said: a build whose package set
 * an earlier build installed starts from that build's cached root ('cached'); the first of its set
 * from nothing ('scratch'). A waiting job whose set a build before it in the queue installs will find
 * that root too; one whose set is new starts 'fresh': from nothing or from a prepared base, as the
 * kind's builds that did not start cached. `jobs` newest first.
 */
export function inferStarts(jobs: readonly JobSummary[]): Map<string, BuildStart | 'fresh'> {
  const out = new Map<string, BuildStart | 'fresh'>();
  const installed = new Set<string>();
  for (let i = jobs.length - 1; i >= 0; i--) {
    const j = jobs[i]!;
    const key = j.packages_key;
    if (!key) continue;
    const built = countsAsBuild(j) || j.status === 'building';
    if (built && !j.start) out.set(j.id, installed.has(key) ? 'cached' : 'scratch');
    else if (isWaiting(j)) out.set(j.id, installed.has(key) ? 'cached' : 'fresh');
    if (built || isWaiting(j)) installed.add(key);
  }
  return out;
}

/** The estimate for the index's current version, worked out again when the index or the slots change, or time moves on. */
export class QueueEstimator {
  private cached: { version: number; slots: number; at: number; value: QueueEstimate } | undefined;

  constructor(private readonly source: { version: number; all(): readonly JobSummary[] }, private readonly slots: () => number) {}

  current(): QueueEstimate {
    const now = Date.now();
    const jobs = this.source.all();
    const slots = this.slots();
    const c = this.cached;
    if (c && c.version === this.source.version && c.slots === slots && now - c.at < 5000) return c.value;
    const value = estimateQueue(jobs, { slots, now: new Date(now) });
    this.cached = { version: this.source.version, slots, at: now, value };
    return value;
  }

  /** The estimate a job about to be queued would get, as if it were the newest in the queue. */
  forNew(job: JobSummary): { spot?: QueueSpot; slots: number } {
    const value = estimateQueue([job, ...this.source.all()], { slots: this.slots(), now: new Date() });
    const spot = value.spots.get(job.id);
    return { ...(spot ? { spot } : {}), slots: value.slots };
  }
}
