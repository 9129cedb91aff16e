// Each phase's time, from when the frontend first saw each phase, and the estimate's error as the pages show it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phaseTimes } from '@img/shared/jobs';
import { estimateErrorPct } from '../../src/routes/job-views.ts';

const t = (s: number) => new Date(Date.UTC(2030, 0, 1, 12, 0, s));

test('a phase lasts until the next phase seen; the last until the job ended', () => {
  const times = phaseTimes({ created: t(0), phase_at: { queued: t(0), fetching: t(10), installing: t(15), assembling: t(45) }, finished: t(50) });
  assert.deepEqual(times.map((p) => [p.phase, p.seconds]), [['queued', 10], ['fetching', 5], ['installing', 30], ['assembling', 5]]);
});

test('while the job runs the last phase counts up to now; without phase records only the queue time from creation', () => {
  assert.deepEqual(phaseTimes({ created: t(0), phase_at: { queued: t(0), installing: t(20) } }, t(26)).map((p) => p.seconds), [20, 6]);
  assert.deepEqual(phaseTimes({ created: t(0), finished: t(3) }).map((p) => [p.phase, p.seconds]), [['queued', 3]]);
});

test("an estimate's error is a share of the time from queueing to the end, at least 10 s", () => {
  assert.equal(estimateErrorPct(t(0), t(120), t(100)), 20);
  assert.equal(estimateErrorPct(t(0), t(0), t(1)), 10, 'an instant answer estimated at 0 s is off by 1 s of the 10 s floor');
});
