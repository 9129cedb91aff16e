// The dashboard's figures as the API gives them, from time series written to the real database
// by two writers (two image-creators) and a notifier: summed over writers, quantiles from the
// histogram buckets, the queue's mean depth, rising failure codes, and the month.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { BUILD_SECONDS_BUCKETS, bucketStart, HOUR_MS, MINUTE_MS, SERIES_COLLECTION, TimeSeries, WAIT_SECONDS_BUCKETS } from '@img/shared/metrics';
import { connectTestDatabase, testLogger } from '@img/shared/testing';
import { dashboardStats } from '../../src/jobs/dashboard-stats.ts';

let db: Connection;
const now = bucketStart(Date.now(), HOUR_MS) + 30 * MINUTE_MS;

before(async () => {
  db = await connectTestDatabase();
  await db.collection(SERIES_COLLECTION).deleteMany({});
  let at = now - 20 * HOUR_MS;
  const clock = () => at;
  const a = new TimeSeries(db, { log: testLogger('a'), service: 'image-creator', now: clock });
  const b = new TimeSeries(db, { log: testLogger('b'), service: 'image-creator', now: clock });
  const mail = new TimeSeries(db, { log: testLogger('n'), service: 'notifier', now: clock });
  // Twenty hours ago: a build of 100 s and an old failure.
  a.count('builds', 'done');
  a.observe('build_seconds', 'tar', 100, BUILD_SECONDS_BUCKETS);
  a.count('builds', 'failed');
  a.count('failures', 'old_code');
  await a.flush();
  // In the last hour: both writers build, a new failure code appears, the cache answers once.
  at = now - 10 * MINUTE_MS;
  for (const w of [a, b]) {
    w.count('builds', 'done');
    w.observe('build_seconds', 'tar', 100, BUILD_SECONDS_BUCKETS);
  }
  b.observe('build_seconds', 'raw', 1000, BUILD_SECONDS_BUCKETS);
  b.count('builds', 'reused');
  b.count('cache', 'image_hit');
  a.count('cache', 'image_miss');
  a.count('cache', 'image_miss');
  a.count('builds', 'failed');
  a.count('failures', 'new_code');
  a.observe('queue_wait_seconds', 'all', 3, WAIT_SECONDS_BUCKETS);
  a.sample('queue_depth', 'waiting', 2);
  a.sample('queue_depth', 'waiting', 4);
  mail.count('emails', 'sent', 3);
  mail.count('emails', 'undeliverable');
  for (const w of [a, b, mail]) await w.stop();
});
after(async () => {
  await db.close();
});

test('the day: counts summed over writers, quantiles by type, the queue, and the codes that rose', async () => {
  const s = await dashboardStats(db, 'day', now);
  assert.equal(s.hourly.t.length, 24);
  assert.equal(s.hourly.t.at(-1), bucketStart(now, HOUR_MS) / 1000);
  assert.deepEqual(s.totals.builds, { done: 3, failed: 2, cancelled: 0, reused: 1 });
  assert.deepEqual(s.hourly.builds.done.slice(-1), [2], 'two writers in the last hour');
  assert.deepEqual(s.totals.emails, { sent: 3, rejected: 0, failed: 0, undeliverable: 1 });
  assert.deepEqual(s.totals.cache.image, { hit: 1, miss: 2, ratio: 1 / 3 });
  assert.equal(s.totals.cache.rootfs!.ratio, null, 'no lookup, no ratio');
  // Three tar builds of 100 s: in the (60, 120] bucket.
  const tar = s.totals.build_seconds.tar!;
  assert.equal(tar.count, 3);
  assert.ok(tar.p50! > 60 && tar.p50! <= 120 && tar.p95! > 60 && tar.p95! <= 120, JSON.stringify(tar));
  assert.ok(s.totals.build_seconds.raw!.p50! > 900 && s.totals.build_seconds.raw!.p50! <= 1800);
  assert.equal(s.hourly.build_seconds.tar!.p50.filter((v) => v !== null).length, 2, 'two hours had tar builds');
  // The queue: per minute, the mean of that minute's samples.
  assert.equal(s.queue.step_s, 60);
  const minute = s.queue.t.indexOf(bucketStart(now - 10 * MINUTE_MS, MINUTE_MS) / 1000);
  assert.equal(s.queue.waiting[minute], 3);
  assert.ok(s.queue.wait_p50[minute]! > 1 && s.queue.wait_p50[minute]! <= 5);
  assert.equal(s.queue.waiting.filter((v) => v !== null).length, 1);
  assert.deepEqual(s.rising_failures.map((f) => [f.code, f.rising]), [['new_code', true], ['old_code', false]]);
});

test('the month: per hour, the same totals', async () => {
  const s = await dashboardStats(db, 'month', now);
  assert.equal(s.hourly.t.length, 30 * 24);
  assert.equal(s.queue.step_s, 3600);
  assert.deepEqual(s.totals.builds, { done: 3, failed: 2, cancelled: 0, reused: 1 });
  assert.equal(s.queue.waiting.at(-1), 3);
});
