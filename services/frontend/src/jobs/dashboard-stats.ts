// The operator's dashboard figures, read from the time series the services write (see
// shared/src/metrics/time-series.ts): per hour over the range for builds, build times, failures,
// caches and emails; per minute over the last day (per hour over a month) for the queue.
import type { Connection } from 'mongoose';
import {
  addCounts, bucketTimes, BUILD_SECONDS_BUCKETS, DAY_MS, HOUR_MS, MINUTE_MS, quantile, readSeries, risingCounts, WAIT_SECONDS_BUCKETS,
  type SeriesDoc, type SeriesName,
} from '@img/shared/metrics';

export const statsRanges = ['day', 'month'] as const;
export type StatsRange = (typeof statsRanges)[number];

const buildOutcomes = ['done', 'failed', 'cancelled', 'reused'] as const;
const emailStates = ['sent', 'rejected', 'failed', 'undeliverable'] as const;
const caches = ['image', 'rootfs'] as const;
type Point = number | null;

export interface DashboardStats {
  range: StatsRange;
  generated_at: string;
  /** Per hour over the range; times in seconds since the epoch (what uPlot takes). */
  hourly: {
    t: number[];
    builds: Record<(typeof buildOutcomes)[number], number[]>;
    build_seconds: Record<string, { p50: Point[]; p95: Point[] }>;
    failures: Record<string, number[]>;
    cache_hit_ratio: Record<(typeof caches)[number], Point[]>;
    emails: Record<(typeof emailStates)[number], number[]>;
  };
  /** Per minute over the day (per hour over the month). */
  queue: { t: number[]; step_s: number; waiting: Point[]; building: Point[]; wait_p50: Point[]; wait_p95: Point[] };
  totals: {
    builds: Record<string, number>;
    build_seconds: Record<string, { p50: Point; p95: Point; count: number }>;
    cache: Record<string, { hit: number; miss: number; ratio: Point }>;
    emails: Record<string, number>;
  };
  /** Failure codes, the most risen first: the last quarter of the range against the rest. */
  rising_failures: Array<{ code: string; recent: number; earlier: number; recent_per_hour: number; earlier_per_hour: number; rising: boolean }>;
}

/** Sums the documents of each bucket (every writer) into one per series and bucket. */
function byBucket(docs: SeriesDoc[]): Map<SeriesName, Map<number, SeriesDoc>> {
  const out = new Map<SeriesName, Map<number, SeriesDoc>>();
  for (const d of docs) {
    const series = out.get(d.series) ?? new Map<number, SeriesDoc>();
    out.set(d.series, series);
    const t = d.t.getTime();
    const sum = series.get(t) ?? { ...d, c: {}, h: {}, g: {} };
    for (const [k, n] of Object.entries(d.c ?? {})) sum.c![k] = (sum.c![k] ?? 0) + n;
    for (const [k, b] of Object.entries(d.h ?? {})) {
      const into = (sum.h![k] ??= {});
      for (const [bk, n] of Object.entries(b)) into[bk] = (into[bk] ?? 0) + n;
    }
    for (const [k, g] of Object.entries(d.g ?? {})) {
      const into = (sum.g![k] ??= { sum: 0, n: 0 });
      into.sum += g.sum;
      into.n += g.n;
    }
    series.set(t, sum);
  }
  return out;
}

function histogramCounts(h: Record<string, number> | undefined, bounds: readonly number[]): number[] {
  return Array.from({ length: bounds.length + 1 }, (_, i) => h?.[`b${i}`] ?? 0);
}

function keysOf(series: Map<number, SeriesDoc> | undefined, part: 'c' | 'h' | 'g'): string[] {
  const keys = new Set<string>();
  for (const d of series?.values() ?? []) for (const k of Object.keys(d[part] ?? {})) keys.add(k);
  return [...keys].sort();
}

export async function dashboardStats(conn: Connection, range: StatsRange, now = Date.now()): Promise<DashboardStats> {
  const span = range === 'day' ? DAY_MS : 30 * DAY_MS;
  const from = now - span + HOUR_MS;
  const hours = bucketTimes(from, now, HOUR_MS);
  const queueStep = range === 'day' ? MINUTE_MS : HOUR_MS;
  const queueTimes = bucketTimes(now - span + queueStep, now, queueStep);
  const hourly = byBucket(await readSeries(conn, 'h', new Date(hours[0]!)));
  const queueDocs = range === 'day' ? byBucket(await readSeries(conn, 'm', new Date(queueTimes[0]!))) : hourly;

  const counts = (series: SeriesName, key: string) => hours.map((t) => hourly.get(series)?.get(t)?.c?.[key] ?? 0);
  const total = (values: number[]) => values.reduce((a, b) => a + b, 0);

  const builds = Object.fromEntries(buildOutcomes.map((o) => [o, counts('builds', o)])) as DashboardStats['hourly']['builds'];
  const emails = Object.fromEntries(emailStates.map((s) => [s, counts('emails', s)])) as DashboardStats['hourly']['emails'];
  const failures = Object.fromEntries(keysOf(hourly.get('failures'), 'c').map((code) => [code, counts('failures', code)]));

  const buildSeconds: DashboardStats['hourly']['build_seconds'] = {};
  const buildTotals: DashboardStats['totals']['build_seconds'] = {};
  for (const type of keysOf(hourly.get('build_seconds'), 'h')) {
    const per = hours.map((t) => histogramCounts(hourly.get('build_seconds')?.get(t)?.h?.[type], BUILD_SECONDS_BUCKETS));
    buildSeconds[type] = { p50: per.map((c) => quantile(BUILD_SECONDS_BUCKETS, c, 0.5)), p95: per.map((c) => quantile(BUILD_SECONDS_BUCKETS, c, 0.95)) };
    const all = per.reduce((a, c) => addCounts(a, c), [] as number[]);
    buildTotals[type] = { p50: quantile(BUILD_SECONDS_BUCKETS, all, 0.5), p95: quantile(BUILD_SECONDS_BUCKETS, all, 0.95), count: total(all) };
  }

  const cacheRatio = {} as DashboardStats['hourly']['cache_hit_ratio'];
  const cacheTotals: DashboardStats['totals']['cache'] = {};
  for (const name of caches) {
    const hit = counts('cache', `${name}_hit`);
    const miss = counts('cache', `${name}_miss`);
    cacheRatio[name] = hit.map((h, i) => (h + miss[i]! > 0 ? h / (h + miss[i]!) : null));
    const [th, tm] = [total(hit), total(miss)];
    cacheTotals[name] = { hit: th, miss: tm, ratio: th + tm > 0 ? th / (th + tm) : null };
  }

  const gauge = (key: string) => queueTimes.map((t) => {
    const g = queueDocs.get('queue_depth')?.get(t)?.g?.[key];
    return g && g.n > 0 ? g.sum / g.n : null;
  });
  const waits = queueTimes.map((t) => histogramCounts(queueDocs.get('queue_wait_seconds')?.get(t)?.h?.all, WAIT_SECONDS_BUCKETS));

  const rising = risingCounts(failures, hours, now - span / 4, hours[0]!, now);
  const seconds = (ts: number[]) => ts.map((t) => t / 1000);
  return {
    range,
    generated_at: new Date(now).toISOString(),
    hourly: { t: seconds(hours), builds, build_seconds: buildSeconds, failures, cache_hit_ratio: cacheRatio, emails },
    queue: {
      t: seconds(queueTimes), step_s: queueStep / 1000, waiting: gauge('waiting'), building: gauge('building'),
      wait_p50: waits.map((c) => quantile(WAIT_SECONDS_BUCKETS, c, 0.5)), wait_p95: waits.map((c) => quantile(WAIT_SECONDS_BUCKETS, c, 0.95)),
    },
    totals: {
      builds: Object.fromEntries(buildOutcomes.map((o) => [o, total(builds[o])])),
      build_seconds: buildTotals,
      cache: cacheTotals,
      emails: Object.fromEntries(emailStates.map((s) => [s, total(emails[s])])),
    },
    rising_failures: rising.map((r) => ({ code: r.key, recent: r.recent, earlier: r.earlier, recent_per_hour: r.recentPerHour, earlier_per_hour: r.earlierPerHour, rising: r.rising })),
  };
}
