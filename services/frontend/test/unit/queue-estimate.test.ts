// Queue positions and estimated start times, from recent build durations and the build slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateQueue } from '../../src/jobs/queue-estimate.ts';
import type { JobSummary } from '../../src/jobs/job-summary.ts';

const now = new Date('2030-01-01T12:00:00Z');
let n = 0;
function job(status: JobSummary['status'], minutesAgo: number, extra: Partial<JobSummary> = {}): JobSummary {
  n++;
  return { id: n.toString(16).padStart(32, '0'), email: 'a@example.com', type: 'tar', status, phase: 'queued', source: 'kickstart', created: new Date(now.getTime() - minutesAgo * 60_000), ...extra };
}
const newestFirst = (jobs: JobSummary[]) => [...jobs].sort((a, b) => b.created.getTime() - a.created.getTime());

test('waiting jobs are numbered oldest first; without finished builds there is a position but no time', () => {
  const a = job('queued', 3);
  const b = job('queued', 2);
  const c = job('kickstarting', 1);
  const est = estimateQueue(newestFirst([a, b, c, job('done', 10)]), { slots: 1, now });
  assert.deepEqual([a, b, c].map((j) => est.spots.get(j.id)?.position), [1, 2, 3]);
  assert.equal(est.spots.get(a.id)?.startAt, undefined);
  assert.equal(est.waiting, 3);
});

test('start times play the queue forward over the slots, with the median recent build time', () => {
  const durations = [100, 200, 300, 10_000, 250];
  const done = durations.map((d, i) => job('done', 60 + i, { duration_s: d }));
  // An identical request answered from a finished build took no build: it must not count.
  done.push(job('done', 59, { duration_s: 0, start: 'identical' }), job('done', 58, { duration_s: 0 }));
  // One build running for 50 s of its expected 250 s.
  const running = job('building', 5, { started: new Date(now.getTime() - 50_000) });
  const q1 = job('queued', 3);
  const q2 = job('queued', 2);
  const q3 = job('queued', 1);
  const jobs = newestFirst([...done, running, q1, q2, q3]);

  const one = estimateQueue(jobs, { slots: 1, now });
  assert.equal(one.typicalBuildS, 250);
  const at = (id: string, e = one) => (e.spots.get(id)!.startAt!.getTime() - now.getTime()) / 1000;
  assert.equal(at(q1.id), 200);
  assert.equal(at(q2.id), 450);
  assert.equal(at(q3.id), 700);
  const fin = (id: string, e = one) => (e.spots.get(id)!.finishAt!.getTime() - now.getTime()) / 1000;
  assert.equal(fin(q3.id), 950, 'each waiting job finishes one typical build after it starts');
  assert.equal(fin(running.id), 200, 'the running build is expected to end after its typical time');
  assert.equal(one.spots.get(running.id)!.position, 0);

  const two = estimateQueue(jobs, { slots: 2, now });
  assert.equal(at(q1.id, two), 0, 'a free slot starts the first job now');
  assert.equal(at(q2.id, two), 200, 'the next takes the slot the running build frees');
  assert.equal(at(q3.id, two), 250);
});

test('a build running longer than usual is expected to end soon, not in the past', () => {
  const done = job('done', 60, { duration_s: 60 });
  const running = job('building', 30, { started: new Date(now.getTime() - 600_000) });
  const q = job('queued', 1);
  const est = estimateQueue(newestFirst([done, running, q]), { slots: 1, now });
  assert.ok(est.spots.get(q.id)!.startAt!.getTime() > now.getTime());
});

test('each job is estimated from builds of its own kind: image type, architecture, how it starts, boot check', () => {
  const done = [
    job('done', 90, { type: 'tar', duration_s: 40 }),
    job('done', 91, { type: 'tar', duration_s: 50 }),
    job('done', 92, { type: 'livecd', duration_s: 300, booted: true }),
    job('done', 93, { type: 'raw', duration_s: 200, booted: true, start: 'scratch' }),
    job('done', 94, { type: 'raw', duration_s: 20, booted: true, start: 'cached' }),
    job('done', 95, { type: 'raw', duration_s: 22, booted: true, start: 'cached' }),
    job('done', 96, { type: 'raw', duration_s: 0, start: 'identical' }),
  ];
  const tar = job('queued', 5, { type: 'tar' });
  const live = job('queued', 4, { type: 'livecd' });
  const rawCached = job('building', 6, { type: 'raw', start: 'cached', started: now });
  const rawScratch = job('building', 6, { type: 'raw', start: 'scratch', started: now });
  const est = estimateQueue(newestFirst([...done, rawCached, rawScratch, tar, live]), { slots: 2, now });
  const typical = (j: JobSummary) => est.spots.get(j.id)!.typical!;
  assert.equal(typical(tar).seconds, 45, 'a tar from tars');
  assert.equal(typical(live).seconds, 300, 'a live ISO from live ISOs, not from the tars');
  assert.equal(typical(rawCached).seconds, 21, 'a raw from a cached root from such builds');
  assert.equal(typical(rawScratch).seconds, 200);
  assert.match(typical(rawCached).basis, /raw\/amd64\/cached\/boot, 2 builds/);
  // The two raw builds hold both slots: the tar waits for the cached one (21 s), the live ISO for the tar.
  const start = (j: JobSummary) => (est.spots.get(j.id)!.startAt!.getTime() - now.getTime()) / 1000;
  assert.equal(start(tar), 21);
  assert.equal(start(live), 66);
});

test('a kind without history falls back: any start, then the other architecture scaled, then its architecture, then all', () => {
  const done = [
    job('done', 90, { type: 'raw', duration_s: 100, booted: true, start: 'scratch' }),
    job('done', 91, { type: 'raw', duration_s: 60, booted: true, start: 'base' }),
    job('done', 92, { type: 'tar', duration_s: 50 }),
    job('done', 93, { type: 'tar', duration_s: 150, arch: 'arm64' }),
  ];
  const rawCached = job('building', 9, { type: 'raw', start: 'cached', started: now });
  const rawArm = job('queued', 8, { type: 'raw', arch: 'arm64' });
  const qcowArm = job('queued', 7, { type: 'qcow2', arch: 'arm64' });
  const est = estimateQueue(newestFirst([...done, rawCached, rawArm, qcowArm]), { slots: 3, now });
  const typical = (j: JobSummary) => est.spots.get(j.id)!.typical!;
  assert.equal(typical(rawCached).seconds, 80, 'no cached raw yet: the raw builds of any start');
  assert.equal(typical(rawArm).seconds, 240, 'no arm64 raw yet: the amd64 raw times arm64/amd64 of the tars (3)');
  assert.match(typical(rawArm).basis, /raw\/amd64 × 3\.00/);
  assert.equal(typical(qcowArm).seconds, 150, 'no qcow2 anywhere: the arm64 builds');
});

test('a request identical to a finished build is expected at once; one identical to a build ahead finishes with it', () => {
  const done = [job('done', 90, { type: 'raw', duration_s: 100, request_hash: 'a'.repeat(64) }), job('done', 91, { type: 'tar', duration_s: 30 })];
  const first = job('queued', 5, { type: 'tar', request_hash: 'b'.repeat(64) });
  const again = job('queued', 4, { type: 'raw', request_hash: 'a'.repeat(64) });
  const twin = job('queued', 3, { type: 'tar', request_hash: 'b'.repeat(64) });
  const est = estimateQueue(newestFirst([...done, first, again, twin]), { slots: 2, now });
  const spot = (j: JobSummary) => est.spots.get(j.id)!;
  const s = (d: Date | undefined) => (d!.getTime() - now.getTime()) / 1000;
  assert.equal(s(spot(again).finishAt), s(spot(again).startAt), 'answered from the finished image: no build time');
  assert.equal(spot(again).typical!.seconds, 0);
  assert.equal(s(spot(first).finishAt), 30);
  assert.equal(s(spot(twin).finishAt), 30, 'waits for the identical build before it and shares its image');
});

test('with no image-creator counted, at least one slot is assumed; more running builds than slots hold their own', () => {
  const done = job('done', 60, { duration_s: 60 });
  const b1 = job('building', 10, { started: now });
  const b2 = job('building', 9, { started: now });
  const q = job('queued', 1);
  const est = estimateQueue(newestFirst([done, b1, b2, q]), { slots: 0, now });
  assert.equal(est.slots, 2);
  assert.equal((est.spots.get(q.id)!.startAt!.getTime() - now.getTime()) / 1000, 60);
});

test('where image-creator did not say how a build started, a package set built before means a cached root', () => {
  const done = [
    job('done', 90, { type: 'tar', duration_s: 40, packages_key: 'k1' }),
    job('done', 80, { type: 'tar', duration_s: 8, packages_key: 'k1' }),
    job('done', 70, { type: 'tar', duration_s: 44, packages_key: 'k2' }),
    job('done', 60, { type: 'tar', duration_s: 10, packages_key: 'k2' }),
  ];
  const again = job('queued', 5, { type: 'tar', packages_key: 'k1' });
  const fresh = job('queued', 4, { type: 'tar', packages_key: 'k3' });
  const after = job('queued', 3, { type: 'tar', packages_key: 'k3' });
  const est = estimateQueue(newestFirst([...done, again, fresh, after]), { slots: 1, now });
  const typical = (j: JobSummary) => est.spots.get(j.id)!.typical!;
  assert.equal(typical(again).seconds, 9, 'its set was built: the cached tars (8 s, 10 s)');
  assert.match(typical(again).basis, /tar\/amd64\/cached/);
  assert.equal(typical(fresh).seconds, 42, 'a new set: the tars that did not start cached (40 s, 44 s)');
  assert.match(typical(fresh).basis, /tar\/amd64\/fresh, 2 builds/);
  assert.equal(typical(after).seconds, 9, 'the job before it in the queue builds its set first');
});
