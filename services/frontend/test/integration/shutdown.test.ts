// Stopping the frontend ends its live streams: an open event stream must not keep it running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { stackEnv, startService } from '@img/shared/testing';
import { readEvents } from '../support/http.ts';

test('SIGTERM closes the open event streams, telling them why, and the process exits promptly', async () => {
  const env = await stackEnv();
  const frontend = await startService('frontend', env);
  try {
    let stoppedAt = 0;
    let stopped: Promise<void> | undefined;
    const stream = readEvents(`${env.IMG_PUBLIC_URL}/api/v1/queue/events`, (e) => e.event === 'never', {
      timeoutMs: 20_000,
      onOpen: () => {
        setTimeout(() => {
          stoppedAt = performance.now();
          stopped = frontend.stop();
        }, 300);
      },
    });
    const second = readEvents(`${env.IMG_PUBLIC_URL}/api/v1/queue/events`, () => false, { timeoutMs: 20_000 });
    const [a, b] = await Promise.all([stream, second]);
    const took = performance.now() - stoppedAt;
    for (const r of [a, b]) {
      assert.equal(r.ended, true, 'the server ended the stream');
      assert.deepEqual(r.events.map((e) => e.event).filter((e) => e !== 'ping'), ['hello', 'shutdown']);
    }
    await stopped;
    assert.ok(performance.now() - stoppedAt < 5000, `stopped ${took.toFixed(0)} ms after the signal`);
    assert.equal(frontend.proc.exitCode, 0);
  } finally {
    await frontend.kill();
    await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  }
});
