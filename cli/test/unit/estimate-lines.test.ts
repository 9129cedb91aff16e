// What `img submit --wait` and `img status` say of the estimates: when a job is expected to start and
// finish while it waits or builds, and once it has ended the estimate beside the actual figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateLines, stateLine, type ApiJob } from '../../src/client.ts';

const now = Date.parse('2030-01-01T12:00:00Z');
const base: ApiJob = { id: 'a'.repeat(32), email: 'a***@example.com', type: 'raw', status: 'queued', phase: 'queued', created: '2030-01-01T11:59:00Z', links: { page: 'http://img.example/job/a' } } as ApiJob;

test('a waiting job: its place, when it starts and when it is done', () => {
  const job = { ...base, queue_position: 2, estimated_start: '2030-01-01T12:03:00Z', estimated_finish: '2030-01-01T12:05:00Z', estimate_basis: 'raw/amd64, 4 builds' };
  assert.equal(stateLine(job, now), 'queued · #2 in the queue, starts in ~3 min · done in ~5 min');
  assert.deepEqual(estimateLines(job), ['start    estimated 12:03:00 UTC', 'finish   estimated 12:05:00 UTC', 'from     raw/amd64, 4 builds']);
});

test('an ended job: the estimate made when it was queued beside the actual figures, and its phases', () => {
  const job: ApiJob = {
    ...base, status: 'done', estimated_start: '2030-01-01T12:03:00Z', estimated_finish: '2030-01-01T12:05:00Z',
    actual_start: '2030-01-01T12:02:00Z', actual_finish: '2030-01-01T12:06:00Z', estimate_error_pct: 14.3,
    phase_times: [{ phase: 'queued', start: '2030-01-01T11:59:00Z', seconds: 180 }, { phase: 'installing', start: '2030-01-01T12:02:00Z', seconds: 240 }],
  };
  assert.equal(stateLine(job, now), 'done', 'no "done in" once it is done');
  assert.deepEqual(estimateLines(job), [
    'start    estimated 12:03:00 UTC, actual 12:02:00 UTC',
    'finish   estimated 12:05:00 UTC, actual 12:06:00 UTC',
    'off by   14.3 % of the time it took',
    'phases   queued 180 s, installing 240 s',
  ]);
});
