// The fault from issue 11, against real services: a build outlasts RabbitMQ's consumer_timeout, the
// broker closes image-creator's consumer channel, and image-creator must consume again: a job
// submitted after it is built. Before the fix image_queue was left with no consumer and the next
// job sat queued until image-creator was restarted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import mongoose from 'mongoose';
import { declareTopology, queues } from '../../src/broker/index.ts';
import { repoRoot, stackEnv, startService, testEnv, uniqueEmail, waitFor, type ServiceProcess } from '../../src/testing/index.ts';
import { startRabbitNode, type RabbitNode } from './fixtures/rabbit-node.ts';

const CONSUMER_TIMEOUT_MS = 8000;
// The first build holds its delivery longer than the timeout; a %post sleep makes sure of it.
const SLOW_BUILD_S = 12;

let node: RabbitNode;
let env: Awaited<ReturnType<typeof stackEnv>>;
const services: Record<string, ServiceProcess> = {};
// A database of its own: jobs other test files leave pending must not count against the
// per-client cap, and these jobs must not count against theirs.
const mongoUrl = testEnv.mongoUrl.replace(/\/[^/?]*(\?|$)/, '/img_test_consumer_timeout$1');

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  node = await startRabbitNode({
    conf: `consumer_timeout = ${CONSUMER_TIMEOUT_MS}\n`,
    advanced: '[{rabbit, [{channel_tick_interval, 500}]}].\n',
  });
  env = await stackEnv({ IMG_AMQP_URL: node.url, IMG_MONGO_URL: mongoUrl, IMG_BUILD_CONCURRENCY: '1', IMG_BUILD_TIMEOUT_S: '600' });
  for (const name of ['image-creator', 'frontend']) services[name] = await startService(name, env, { readyTimeoutMs: 60_000 });
});

after(async () => {
  await Promise.all(Object.values(services).map((s) => s.stop()));
  await node?.stop();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  const conn = await mongoose.createConnection(mongoUrl).asPromise().catch(() => undefined);
  await conn?.dropDatabase().catch(() => {});
  await conn?.close();
});

async function submit(kickstart: string): Promise<{ id: string; token: string }> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('consumer-timeout'), imagetype: 'tar', kickstart }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as { id: string; token: string };
}

async function finished(job: { id: string; token: string }, timeoutMs: number): Promise<{ status: string; error?: string }> {
  return waitFor(`job ${job.id} to finish`, async () => {
    const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: { accept: 'application/json', authorization: `Bearer ${job.token}` } });
    const j = (await res.json()) as { status: string; error?: string };
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs, intervalMs: 500 });
}

test('a build longer than consumer_timeout: the broker closes the channel, image-creator consumes again, and the next job is built', async () => {
  const slow = await submit(`%packages\nhostname\n%end\n\n%post\nsleep ${SLOW_BUILD_S}\n%end\n`);
  // The broker's doing, in its own words as image-creator logs them: the channel it consumed on
  // was closed under it for the unacked delivery.
  await waitFor('the broker to close image-creator\'s consumer channel', async () => services['image-creator']!.output.some((l) => /image_queue/.test(l) && /delivery acknowledgement on channel \d+ timed out/.test(l)), { timeoutMs: 120_000 });
  assert.equal((await finished(slow, 10 * 60_000)).status, 'done');

  const next = await submit('%packages\nhostname\n%end\n');
  const done = await finished(next, 3 * 60_000);
  assert.equal(done.status, 'done', done.error);

  const conn = await amqp.connect(node.url);
  try {
    await declareTopology(conn);
    const ch = await conn.createChannel();
    assert.equal((await ch.checkQueue(queues.image)).consumerCount, 1, 'image_queue has its one consumer');
  } finally {
    await conn.close();
  }
});
