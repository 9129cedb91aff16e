// The kickstarter service through RabbitMQ: a template job becomes a kickstart on image_queue; a
// broken one becomes an error on error_queue that names the line or the overlay item.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import amqp from 'amqplib';
import { Broker, queues, routes } from '@img/shared/broker';
import { kickstarterMessage, type ErrorMessage, type ImageMessage } from '@img/shared/contracts';
import { newJobId, sealJob } from '@img/shared/jobs';
import { defaultTemplatePath, parseKickstart } from '@img/shared/kickstart';
import type { RunningService } from '@img/shared/lifecycle';
import { connectTestBroker, purgeAllQueues, stackEnv, testEnv, testLogger, testTokenSecret, waitFor } from '@img/shared/testing';
import { loadConfig } from '../../src/config.ts';
import { start } from '../../src/service.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let kickstarter: RunningService | undefined;
let broker: Broker;

before(async () => {
  await purgeAllQueues();
  // Below the DESKTOP platform's PartSize of 8192, to show the setting reaches the generator.
  env = await stackEnv({ IMG_MAX_DISK_MB: '4096' });
  // In this test's own process: start(config) is all the service needs.
  kickstarter = await start(loadConfig(env), { log: testLogger('kickstarter') });
  broker = await connectTestBroker('kickstarter-test');
});
after(async () => {
  await broker?.close();
  await kickstarter?.stop();
  // A second stop (a second signal) is harmless.
  await kickstarter?.stop();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});
beforeEach(async () => {
  await purgeAllQueues();
});

async function take<T>(queue: string): Promise<T> {
  return waitFor(`a message on ${queue}`, async () => {
    const conn = await amqp.connect(testEnv.amqpUrl);
    try {
      const ch = await conn.createChannel();
      const m = await ch.get(queue, { noAck: true });
      return m ? (JSON.parse(m.content.toString()) as T) : undefined;
    } finally {
      await conn.close();
    }
  }, { timeoutMs: 15_000, intervalMs: 200 });
}

test('the frontend\'s seal of the job and its queueing time go on to image_queue unchanged', async () => {
  const id = newJobId();
  const config = await readFile(defaultTemplatePath, 'utf8');
  const seal = sealJob(testTokenSecret, { id, email: 'a@example.com', imagetype: 'tar' });
  const submitted_at = new Date().toISOString();
  await broker.publish(routes.kickstart, kickstarterMessage, { id, email: 'a@example.com', imagetype: 'tar', config, platform: 'MINIMAL', overlay: '', seal, submitted_at });
  const msg = await take<ImageMessage>(queues.image);
  assert.equal(msg.id, id);
  assert.equal(msg.seal, seal);
  assert.equal(msg.submitted_at, submitted_at);
});

test('a template job becomes a valid kickstart on image_queue, with the overlay applied', async () => {
  const id = newJobId();
  const config = await readFile(defaultTemplatePath, 'utf8');
  await broker.publish(routes.kickstart, kickstarterMessage, { id, email: 'a@example.com', imagetype: 'tar', config, platform: 'MINIMAL', overlay: 'gcc, -nano' });
  const msg = await take<ImageMessage>(queues.image);
  assert.equal(msg.id, id);
  assert.equal(msg.email, 'a@example.com');
  assert.equal(msg.imagetype, 'tar');
  const parsed = parseKickstart(msg.ksfile);
  assert.deepEqual(parsed.errors, []);
  assert.ok(parsed.plan?.packages.include.includes('gcc'));
  assert.ok(parsed.plan?.packages.exclude.includes('nano'));
  assert.equal(await take<{ phase: string }>(queues.result).then((r) => r.phase), 'kickstarting');
});

test('a broken template becomes an error_queue message naming the line', async () => {
  const id = newJobId();
  const config = ['Default:', '  Suite: bookworm', 'BROKEN:', '  PartSize: [not a number', ''].join('\n');
  await broker.publish(routes.kickstart, kickstarterMessage, { id, email: 'b@example.com', imagetype: 'tar', config, platform: 'BROKEN', overlay: '' });
  const err = await take<ErrorMessage>(queues.error);
  assert.equal(err.id, id);
  assert.equal(err.code, 'invalid_template');
  assert.equal(err.phase, 'kickstarting');
  assert.equal(err.email, 'b@example.com');
  assert.ok(err.position?.line, `the error has a line: ${JSON.stringify(err)}`);
  assert.match(err.error, /line \d+|:\d+:/);
  // The broken template cost nothing else: the next job is turned into a kickstart.
  const next = newJobId();
  await broker.publish(routes.kickstart, kickstarterMessage, { id: next, email: 'b@example.com', imagetype: 'tar', config: await readFile(defaultTemplatePath, 'utf8'), platform: 'MINIMAL', overlay: '' });
  assert.equal((await take<ImageMessage>(queues.image)).id, next);
});

test('a PartSize above IMG_MAX_DISK_MB, and an overlay of YAML aliases, become errors naming the line and the cap', async () => {
  const config = await readFile(defaultTemplatePath, 'utf8');
  const big = newJobId();
  await broker.publish(routes.kickstart, kickstarterMessage, { id: big, email: 'd@example.com', imagetype: 'raw', config, platform: 'DESKTOP', overlay: '' });
  const err = await take<ErrorMessage>(queues.error);
  assert.equal(err.id, big);
  assert.equal(err.code, 'invalid_template');
  assert.match(err.error, /^template:\d+: PartSize 8192 is above this service's limit of 4096 MiB$/);
  const bomb = newJobId();
  const overlay = ['a0: &a0 [x,x,x,x,x,x,x,x,x]', ...[1, 2, 3, 4, 5, 6, 7].map((i) => `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`)].join('\n');
  await broker.publish(routes.kickstart, kickstarterMessage, { id: bomb, email: 'd@example.com', imagetype: 'tar', config, platform: 'MINIMAL', overlay });
  const refused = await take<ErrorMessage>(queues.error);
  assert.equal(refused.id, bomb);
  assert.equal(refused.error, 'overlay:2: YAML aliases (*a0) are not allowed in an overlay: write the values out');
});

test('a bad overlay item becomes an error naming the item', async () => {
  const id = newJobId();
  const config = await readFile(defaultTemplatePath, 'utf8');
  await broker.publish(routes.kickstart, kickstarterMessage, { id, email: 'c@example.com', imagetype: 'tar', config, platform: 'MINIMAL', overlay: 'gcc,,Bad_Name' });
  const err = await take<ErrorMessage>(queues.error);
  assert.equal(err.code, 'invalid_template');
  assert.match(err.error, /item 2/);
  assert.equal(err.position?.file, 'overlay');
});
