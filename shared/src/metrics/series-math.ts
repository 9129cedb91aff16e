// The arithmetic of the dashboard's time series, kept apart from the database so it can be
// checked alone: which bucket a moment falls in, where a value lands in a histogram, and the
// quantile of a histogram the way Prometheus's histogram_quantile() estimates it.

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The two resolutions kept: a day of minutes, a month of hours. */
export const resolutions = {
  m: { stepMs: MINUTE_MS, keepMs: DAY_MS },
  h: { stepMs: HOUR_MS, keepMs: 30 * DAY_MS },
} as const;
export type Resolution = keyof typeof resolutions;

export function bucketStart(t: number, stepMs: number): number {
  return Math.floor(t / stepMs) * stepMs;
}

/** The start of every bucket from the one holding `fromMs` to the one holding `toMs`, oldest first. */
export function bucketTimes(fromMs: number, toMs: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = bucketStart(fromMs, stepMs); t <= toMs; t += stepMs) out.push(t);
  return out;
}

/** The index of the histogram bucket `value` is counted in: the first bound it does not exceed (Prometheus's `le`), or bounds.length for +Inf. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  const i = bounds.findIndex((b) => value <= b);
  return i < 0 ? bounds.length : i;
}

/**
 * The q-quantile of a histogram given as per-bucket (not cumulative) counts, bounds.length + 1 of
 * them, the last being +Inf. Interpolates linearly inside the bucket, from 0 for the first; a rank
 * in the +Inf bucket answers the highest finite bound. null for an empty histogram.
 */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** Adds histogram counts b into a (same bounds), returning a. */
export function addCounts(a: number[], b: readonly number[]): number[] {
  for (let i = 0; i < b.length; i++) a[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return a;
}

/** A label made safe as one segment of a document path: no dots, no leading $. */
export function fieldKey(label: string): string {
  const k = label.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return k || '_';
}

/**
 * Which counts rose: the rate over the last `recentMs` against the rate over the rest of the
 * range. Rising means seen recently and more often (per hour) than before.
 */
export function risingCounts(series: Record<string, readonly number[]>, times: readonly number[], recentFrom: number, rangeFrom: number, now: number): Array<{ key: string; recent: number; earlier: number; recentPerHour: number; earlierPerHour: number; rising: boolean }> {
  const recentHours = Math.max(1e-9, (now - recentFrom) / HOUR_MS);
  const earlierHours = Math.max(1e-9, (recentFrom - rangeFrom) / HOUR_MS);
  return Object.entries(series).map(([key, values]) => {
    let recent = 0;
    let earlier = 0;
    values.forEach((v, i) => {
      if ((times[i] ?? 0) >= recentFrom) recent += v;
      else earlier += v;
    });
    const recentPerHour = recent / recentHours;
    const earlierPerHour = earlier / earlierHours;
    return { key, recent, earlier, recentPerHour, earlierPerHour, rising: recent > 0 && recentPerHour > earlierPerHour };
  }).sort((a, b) => (b.recentPerHour - b.earlierPerHour) - (a.recentPerHour - a.earlierPerHour) || a.key.localeCompare(b.key));
}
