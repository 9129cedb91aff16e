// The dashboard's time series against the real database: increments land in their minute and
// their hour, histograms keep their buckets, each writer keeps its own documents, flushes in a
// burst lose nothing, and old buckets are pruned (minutes after a day, hours after a month).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { BUILD_SECONDS_BUCKETS, bucketIndex, bucketStart, DAY_MS, HOUR_MS, MINUTE_MS, readSeries, SERIES_COLLECTION, TimeSeries, type SeriesDoc } from '../../src/metrics/index.ts';
import { connectTestDatabase, testLogger } from '../../src/testing/index.ts';

let db: Connection;
// A clock the test moves: ten minutes into the current hour.
const t0 = bucketStart(Date.now(), HOUR_MS) + 10 * MINUTE_MS;
let now = t0;
const clock = () => now;

before(async () => {
  db = await connectTestDatabase();
});
after(async () => {
  await db.close();
});
beforeEach(async () => {
  await db.collection(SERIES_COLLECTION).deleteMany({});
  now = t0;
});

const series = (service: string) => new TimeSeries(db, { log: testLogger('time-series'), service, now: clock });
const sum = (docs: SeriesDoc[], key: string) => docs.reduce((a, d) => a + (d.c?.[key] ?? 0), 0);

test('counts land in their minute and in their hour', async () => {
  const ts = series('image-creator');
  await ts.init();
  ts.count('builds', 'done');
  ts.count('builds', 'done');
  now = t0 + MINUTE_MS + 5_000;
  ts.count('builds', 'done');
  ts.count('builds', 'failed');
  ts.count('failures', 'post_script_failed');
  await ts.stop();

  const minutes = (await readSeries(db, 'm', new Date(t0 - HOUR_MS))).filter((d) => d.series === 'builds');
  assert.deepEqual(minutes.map((d) => [d.t.getTime(), d.c]), [[t0, { done: 2 }], [t0 + MINUTE_MS, { done: 1, failed: 1 }]]);
  const hours = await readSeries(db, 'h', new Date(t0 - DAY_MS));
  const builds = hours.filter((d) => d.series === 'builds');
  assert.equal(builds.length, 1, 'one hour bucket');
  assert.equal(builds[0]!.t.getTime(), bucketStart(t0, HOUR_MS));
  assert.deepEqual(builds[0]!.c, { done: 3, failed: 1 });
  assert.deepEqual(hours.find((d) => d.series === 'failures')?.c, { post_script_failed: 1 });
});

test('a histogram keeps its bucket counts, and a gauge its samples', async () => {
  const ts = series('image-creator');
  await ts.init();
  for (const s of [40, 100, 100, 4000]) ts.observe('build_seconds', 'tar', s, BUILD_SECONDS_BUCKETS);
  ts.sample('queue_depth', 'waiting', 3);
  ts.sample('queue_depth', 'waiting', 5);
  await ts.stop();
  const [hour] = (await readSeries(db, 'h', new Date(t0 - DAY_MS))).filter((d) => d.series === 'build_seconds');
  assert.deepEqual(hour!.h, { tar: { [`b${bucketIndex(BUILD_SECONDS_BUCKETS, 40)}`]: 1, [`b${bucketIndex(BUILD_SECONDS_BUCKETS, 100)}`]: 2, [`b${BUILD_SECONDS_BUCKETS.length}`]: 1 } });
  const [depth] = (await readSeries(db, 'm', new Date(t0 - HOUR_MS))).filter((d) => d.series === 'queue_depth');
  assert.deepEqual(depth!.g, { waiting: { sum: 8, n: 2 } });
});

test('two writers keep their own documents of the same bucket, and a burst of flushes loses nothing', async () => {
  const a = series('image-creator');
  const b = series('image-creator');
  await a.init();
  await b.init();
  const flushes: Promise<void>[] = [];
  for (let i = 0; i < 25; i++) {
    a.count('builds', 'done');
    b.count('builds', 'done');
    flushes.push(a.flush(), b.flush());
  }
  await Promise.all(flushes);
  await a.stop();
  await b.stop();
  const hours = (await readSeries(db, 'h', new Date(t0 - DAY_MS))).filter((d) => d.series === 'builds');
  assert.equal(new Set(hours.map((d) => d.w)).size, 2, 'one document per writer');
  assert.equal(sum(hours, 'done'), 50);
  assert.equal(sum((await readSeries(db, 'm', new Date(t0 - HOUR_MS))).filter((d) => d.series === 'builds'), 'done'), 50);
});

test('minute buckets go after a day, hour buckets after a month: the flushes prune them', async () => {
  const ts = series('notifier');
  await ts.init();
  ts.count('emails', 'sent');
  await ts.flush();
  assert.equal((await readSeries(db, 'm', new Date(0))).length, 1);

  now = t0 + DAY_MS + 2 * MINUTE_MS;
  ts.count('emails', 'sent');
  await ts.flush();
  const minutes = await readSeries(db, 'm', new Date(0));
  assert.deepEqual(minutes.map((d) => d.t.getTime()), [bucketStart(now, MINUTE_MS)], 'the minute of a day ago is gone');
  assert.equal((await readSeries(db, 'h', new Date(0))).length, 2, 'both hours stay');

  now = t0 + 30 * DAY_MS + 2 * HOUR_MS;
  ts.count('emails', 'rejected');
  await ts.flush();
  const hours = await readSeries(db, 'h', new Date(0));
  assert.deepEqual(hours.map((d) => [d.t.getTime(), d.c]), [
    [bucketStart(t0 + DAY_MS, HOUR_MS), { sent: 1 }],
    [bucketStart(now, HOUR_MS), { rejected: 1 }],
  ], 'the hour of a month ago is gone, the later ones stay');
  assert.equal(await ts.prune(), 0, 'nothing older is left');
  await ts.stop();
});
