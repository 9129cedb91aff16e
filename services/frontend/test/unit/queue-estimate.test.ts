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

test("a job's start is estimated from recent builds of its own suite, all recent builds when its suite has none", () => {
  const done = [job('done', 60, { duration_s: 600, suite: 'sid' }), job('done', 61, { duration_s: 100, suite: 'trixie' }), job('done', 62, { duration_s: 120, suite: 'trixie' })];
  const sid = job('queued', 3, { suite: 'sid' });
  const trixie = job('queued', 2, { suite: 'trixie' });
  const forky = job('queued', 1, { suite: 'forky' });
  const est = estimateQueue(newestFirst([...done, sid, trixie, forky]), { slots: 1, now });
  const at = (j: JobSummary) => (est.spots.get(j.id)?.startAt?.getTime() ?? NaN) - now.getTime();
  assert.equal(at(sid), 0);
  assert.equal(at(trixie), 600_000, 'after the sid build, which takes as long as the last sid build');
  assert.equal(at(forky), 710_000, 'after the trixie build (the median of trixie builds: 110 s)');
});
