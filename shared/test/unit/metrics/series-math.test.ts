// The time series' arithmetic: buckets, histogram placement, quantiles as Prometheus estimates
// them, and which failure codes count as rising.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketIndex, bucketStart, bucketTimes, BUILD_SECONDS_BUCKETS, fieldKey, HOUR_MS, MINUTE_MS, quantile, risingCounts } from '../../../src/metrics/index.ts';

test('a moment falls in the minute and the hour that hold it', () => {
  const t = Date.UTC(2026, 11, 2, 13, 47, 59, 999);
  assert.equal(new Date(bucketStart(t, MINUTE_MS)).toISOString(), '2026-12-02T13:47:00.000Z');
  assert.equal(new Date(bucketStart(t, HOUR_MS)).toISOString(), '2026-12-02T13:00:00.000Z');
  assert.equal(bucketStart(Date.UTC(2026, 11, 2, 14), HOUR_MS), Date.UTC(2026, 11, 2, 14), 'the first instant of an hour is in that hour');
  const day = bucketTimes(t - 23 * HOUR_MS, t, HOUR_MS);
  assert.equal(day.length, 24);
  assert.equal(day.at(-1), Date.UTC(2026, 11, 2, 13));
});

test('a value is counted in the first bucket whose bound it does not exceed, as Prometheus\'s le', () => {
  const bounds = [5, 15, 30];
  assert.equal(bucketIndex(bounds, 0), 0);
  assert.equal(bucketIndex(bounds, 5), 0);
  assert.equal(bucketIndex(bounds, 5.01), 1);
  assert.equal(bucketIndex(bounds, 30), 2);
  assert.equal(bucketIndex(bounds, 31), 3, '+Inf');
});

test('quantiles interpolate inside the bucket, as histogram_quantile does', () => {
  const bounds = [10, 20, 40];
  // 10 builds in (10, 20], 10 in (20, 40].
  assert.equal(quantile(bounds, [0, 10, 10, 0], 0.5), 20);
  assert.equal(quantile(bounds, [0, 10, 10, 0], 0.25), 15);
  assert.equal(quantile(bounds, [0, 10, 10, 0], 0.95), 38);
  // The first bucket starts at 0.
  assert.equal(quantile(bounds, [4, 0, 0, 0], 0.5), 5);
  // A rank in +Inf answers the highest finite bound.
  assert.equal(quantile(bounds, [1, 0, 0, 9], 0.95), 40);
  assert.equal(quantile(bounds, [0, 0, 0, 0], 0.5), null, 'no observation, no quantile');
  // One build of 100 s among the build buckets: p50 and p95 both in (60, 120].
  const counts = new Array(BUILD_SECONDS_BUCKETS.length + 1).fill(0);
  counts[bucketIndex(BUILD_SECONDS_BUCKETS, 100)]++;
  const p50 = quantile(BUILD_SECONDS_BUCKETS, counts, 0.5)!;
  assert.ok(p50 > 60 && p50 <= 120, String(p50));
});

test('a failure code rises when its recent hourly rate exceeds its earlier one', () => {
  const hours = bucketTimes(0, 23 * HOUR_MS, HOUR_MS);
  const recentFrom = 18 * HOUR_MS;
  const series = {
    new_code: hours.map((t) => (t >= recentFrom ? 1 : 0)),
    old_code: hours.map((t) => (t < recentFrom ? 2 : 0)),
    steady: hours.map(() => 1),
  };
  const r = risingCounts(series, hours, recentFrom, 0, 24 * HOUR_MS);
  assert.deepEqual(r.map((x) => x.key), ['new_code', 'steady', 'old_code'], 'the most risen first');
  assert.deepEqual(Object.fromEntries(r.map((x) => [x.key, x.rising])), { new_code: true, steady: false, old_code: false });
  assert.equal(r[0]!.recent, 6);
  assert.equal(r[2]!.earlier, 36);
});

test('a label becomes one safe segment of a document path', () => {
  assert.equal(fieldKey('post_script_failed'), 'post_script_failed');
  assert.equal(fieldKey('a.b$c'), 'a_b_c');
  assert.equal(fieldKey(''), '_');
});
