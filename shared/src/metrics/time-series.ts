// The dashboard's history, in the database: each service adds what it counts into buckets of a
// minute (kept a day) and of an hour (kept a month), so the operator's page needs no Prometheus.
//
// One document per resolution, series, bucket and writer (one running process). Increments are
// batched in memory and flushed every few seconds with `$inc` upserts. A writer is the only one
// to touch its documents, and flushes one batch at a time, so no two `$inc`s race on a document:
// FerretDB 1.x does not apply an update atomically. The reader sums the writers of a bucket.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Logger } from '../logging/index.ts';
import { bucketIndex, bucketStart, fieldKey, MINUTE_MS, resolutions, type Resolution } from './series-math.ts';

export const SERIES_COLLECTION = 'stat_buckets';

/** The series kept, and what their keys are. */
export type SeriesName =
  | 'builds' // by outcome: done, failed, cancelled, reused
  | 'build_seconds' // histogram by image type (BUILD_SECONDS_BUCKETS)
  | 'queue_wait_seconds' // histogram, one key: all (WAIT_SECONDS_BUCKETS)
  | 'failures' // by error code
  | 'cache' // <cache>_hit, <cache>_miss
  | 'emails' // by state: sent, rejected, failed, undeliverable
  | 'queue_depth'; // gauge: waiting, building

export interface SeriesDoc {
  _id: string;
  res: Resolution;
  series: SeriesName;
  t: Date;
  w: string;
  /** Counters by key. */
  c?: Record<string, number>;
  /** Histograms by key: b0…bN per-bucket counts (bN is +Inf). */
  h?: Record<string, Record<string, number>>;
  /** Gauge samples by key: their sum and how many. */
  g?: Record<string, { sum: number; n: number }>;
}

export interface TimeSeriesOptions {
  log: Logger;
  /** Names the writer in its documents, with the process id and a random suffix. */
  service: string;
  flushMs?: number;
  now?: () => number;
}

/** How often old buckets are looked for; pruning is cheap but need not run every flush. */
const PRUNE_EVERY_MS = 10 * MINUTE_MS;

export class TimeSeries {
  private readonly writer: string;
  private readonly now: () => number;
  /** Pending increments: minute bucket start → series → field path → amount. */
  private pending = new Map<number, Map<SeriesName, Map<string, number>>>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private lastPrune = 0;

  constructor(private readonly conn: Connection, private readonly opts: TimeSeriesOptions) {
    this.writer = `${fieldKey(opts.service)}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.now = opts.now ?? Date.now;
  }

  /** Creates the index the reader and the pruning use, and starts flushing. */
  async init(): Promise<void> {
    await this.conn.collection(SERIES_COLLECTION).createIndex({ res: 1, t: 1 });
    if (this.opts.flushMs !== undefined && this.opts.flushMs > 0) {
      this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
      this.timer.unref();
    }
  }

  count(series: SeriesName, key: string, n = 1): void {
    this.add(series, `c.${fieldKey(key)}`, n);
  }

  observe(series: SeriesName, key: string, value: number, bounds: readonly number[]): void {
    this.add(series, `h.${fieldKey(key)}.b${bucketIndex(bounds, value)}`, 1);
  }

  /** A gauge's value now (a queue's depth); the page shows the mean of a bucket's samples. */
  sample(series: SeriesName, key: string, value: number): void {
    const k = fieldKey(key);
    this.add(series, `g.${k}.sum`, value);
    this.add(series, `g.${k}.n`, 1);
  }

  private add(series: SeriesName, field: string, n: number): void {
    const t = bucketStart(this.now(), MINUTE_MS);
    let bySeries = this.pending.get(t);
    if (!bySeries) this.pending.set(t, (bySeries = new Map()));
    let fields = bySeries.get(series);
    if (!fields) bySeries.set(series, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + n);
  }

  /** Writes what is pending; one flush at a time, in order. What fails to write is kept for the next. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    // The minute buckets as they are, and the same increments summed into their hours.
    const writes = new Map<string, { res: Resolution; series: SeriesName; t: number; inc: Record<string, number> }>();
    for (const [minute, bySeries] of batch) {
      for (const [series, fields] of bySeries) {
        for (const res of ['m', 'h'] as const) {
          const t = bucketStart(minute, resolutions[res].stepMs);
          const id = `${res}|${series}|${t}|${this.writer}`;
          const w = writes.get(id) ?? { res, series, t, inc: {} };
          for (const [field, n] of fields) w.inc[field] = (w.inc[field] ?? 0) + n;
          writes.set(id, w);
        }
      }
    }
    const col = this.conn.collection<SeriesDoc>(SERIES_COLLECTION);
    const failed: string[] = [];
    let lastError: Error | undefined;
    for (const [id, w] of writes) {
      try {
        await col.updateOne({ _id: id }, { $inc: w.inc, $set: { res: w.res, series: w.series, t: new Date(w.t), w: this.writer } }, { upsert: true });
      } catch (err) {
        failed.push(id);
        lastError = err as Error;
      }
    }
    // One line per flush, however many buckets it could not write.
    if (lastError) this.opts.log.warn({ err: lastError.message, buckets: failed.length }, 'time series not written; the minutes are kept for the next flush');
    // Only the minute writes carry a failure forward (their hour is derived again from them), so
    // a failed hour write alone is lost rather than counted twice.
    for (const id of failed) {
      const w = writes.get(id)!;
      if (w.res !== 'm') continue;
      for (const [field, n] of Object.entries(w.inc)) {
        const bySeries = this.pending.get(w.t) ?? new Map<SeriesName, Map<string, number>>();
        this.pending.set(w.t, bySeries);
        const fields = bySeries.get(w.series) ?? new Map<string, number>();
        bySeries.set(w.series, fields);
        fields.set(field, (fields.get(field) ?? 0) + n);
      }
    }
    if (this.now() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'old time-series buckets not pruned'));
  }

  /** Deletes minute buckets older than a day and hour buckets older than a month, of every writer. */
  async prune(): Promise<number> {
    this.lastPrune = this.now();
    const col = this.conn.collection<SeriesDoc>(SERIES_COLLECTION);
    let deleted = 0;
    for (const res of ['m', 'h'] as const) {
      const r = await col.deleteMany({ res, t: { $lt: new Date(bucketStart(this.now(), resolutions[res].stepMs) - resolutions[res].keepMs) } });
      deleted += r.deletedCount ?? 0;
    }
    return deleted;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

/** The buckets of one resolution from `from` on, every series and writer, oldest first. */
export async function readSeries(conn: Connection, res: Resolution, from: Date): Promise<SeriesDoc[]> {
  const docs = await conn.collection<SeriesDoc>(SERIES_COLLECTION).find({ res, t: { $gte: from } }).toArray();
  return docs.sort((a, b) => a.t.getTime() - b.t.getTime());
}
