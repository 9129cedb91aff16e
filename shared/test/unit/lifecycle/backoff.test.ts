// The retry schedule, without waiting: the delays are computed and the sleep is replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, DEFAULT_BACKOFF, RetryAbortedError, retryWithBackoff } from '../../../src/lifecycle/index.ts';

test('the default schedule doubles from 250 ms and never exceeds 3 s', () => {
  const top = () => 0; // no jitter taken off
  assert.deepEqual([1, 2, 3, 4, 5, 6, 20, 1000].map((n) => backoffDelay(n, DEFAULT_BACKOFF, top)), [250, 500, 1000, 2000, 3000, 3000, 3000, 3000]);
});

test('jitter shortens a delay by at most half, by default', () => {
  const bottom = () => 0.999999;
  assert.deepEqual([1, 2, 5].map((n) => backoffDelay(n, DEFAULT_BACKOFF, bottom)), [125, 250, 1500]);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(7);
    assert.ok(d >= 1500 && d <= 3000, `delay ${d} within [1500, 3000]`);
  }
});

test('a schedule of its own, and jitter 0 gives exact delays', () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 350, jitter: 0 })), [100, 200, 350, 350]);
});

test('retryWithBackoff retries until it succeeds, telling each wait, and waits that long', async () => {
  const waits: number[] = [];
  const told: Array<[number, number, string]> = [];
  let calls = 0;
  const result = await retryWithBackoff(async (attempt) => {
    calls++;
    if (attempt < 4) throw new Error(`fail ${attempt}`);
    return 'ok';
  }, {
    backoff: { initialMs: 100, maxMs: 300, jitter: 0 },
    sleep: async (ms) => { waits.push(ms); },
    onRetry: (attempt, delay, err) => told.push([attempt, delay, err.message]),
  });
  assert.equal(result, 'ok');
  assert.equal(calls, 4);
  assert.deepEqual(waits, [100, 200, 300]);
  assert.deepEqual(told, [[1, 100, 'fail 1'], [2, 200, 'fail 2'], [3, 300, 'fail 3']]);
});

test('retryWithBackoff throws the last error when the attempts run out', async () => {
  let calls = 0;
  await assert.rejects(retryWithBackoff(async (attempt) => {
    calls++;
    throw new Error(`fail ${attempt}`);
  }, { maxAttempts: 3, sleep: async () => {} }), /fail 3/);
  assert.equal(calls, 3);
});

test('retryWithBackoff stops when its signal is aborted, even in the middle of a wait', async () => {
  const stop = new AbortController();
  let calls = 0;
  const retrying = retryWithBackoff(async () => {
    calls++;
    throw new Error('down');
  }, { backoff: { initialMs: 60_000, maxMs: 60_000 }, signal: stop.signal, onRetry: () => stop.abort() });
  await assert.rejects(retrying, RetryAbortedError);
  assert.equal(calls, 1);
});
