import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Broker, queues, routes, exchanges } from '../../src/broker/index.ts';
import { imageMessage, type ImageMessage } from '../../src/contracts/index.ts';
import { newJobId } from '../../src/jobs/index.ts';
import { createLogger } from '../../src/logging/index.ts';
import { connectTestBroker, purgeAllQueues, repoRoot, testEnv, testLogger, waitFor } from '../../src/testing/index.ts';
import { startRabbitNode } from './fixtures/rabbit-node.ts';

function buildMessage(): ImageMessage {
  return { id: newJobId(), email: 'someone@example.com', imagetype: 'tar', ksfile: '%packages\nhostname\n%end\n', version: 1 };
}

/** Reads one message straight off a queue, bypassing the Broker class under test. */
async function getRaw(queue: string): Promise<{ body: unknown; headers: Record<string, unknown> } | null> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const msg = await ch.get(queue, { noAck: true });
    if (!msg) return null;
    return { body: JSON.parse(msg.content.toString()), headers: msg.properties.headers ?? {} };
  } finally {
    await conn.close();
  }
}

/** Every message body in a queue, as text, left in the queue. */
async function peekRaw(queue: string): Promise<string[]> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const out: string[] = [];
    for (;;) {
      const msg = await ch.get(queue, { noAck: false });
      if (!msg) break;
      out.push(msg.content.toString());
    }
    return out;
  } finally {
    await conn.close();
  }
}

async function publishRaw(exchange: string, key: string, body: string): Promise<void> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  const ch = await conn.createConfirmChannel();
  ch.publish(exchange, key, Buffer.from(body), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
}

let broker: Broker;
before(async () => {
  broker = await connectTestBroker('broker-test');
});
after(async () => {
  await broker?.close();
});
beforeEach(async () => {
  await purgeAllQueues();
});

test('a message published with confirms survives a RabbitMQ restart, and the client reconnects', async () => {
  // A node of the test's own: stopping the shared one would stop every other user of this machine's broker.
  const node = await startRabbitNode();
  const own = await Broker.connect({ url: node.url, logger: testLogger('restart-test'), name: 'restart-test', backoff: { initialMs: 100, maxMs: 500 } });
  const raw = async () => {
    const conn = await amqp.connect(node.url);
    try {
      const m = await (await conn.createChannel()).get(queues.image, { noAck: true });
      return m ? JSON.parse(m.content.toString()) as unknown : null;
    } finally {
      await conn.close();
    }
  };
  try {
    const msg = buildMessage();
    await own.publish(routes.build, imageMessage, msg);
    await node.ctl('stop_app');
    try {
      await waitFor('the client to notice', async () => !own.connected, { timeoutMs: 10_000 });
    } finally {
      await node.ctl('start_app');
    }
    assert.deepEqual(await waitFor('the message after the restart', raw, { timeoutMs: 30_000, intervalMs: 500 }), msg);
    // The same Broker object publishes again once it has reconnected by itself.
    const second = buildMessage();
    await own.publish(routes.build, imageMessage, second);
    assert.deepEqual(await raw(), second);
  } finally {
    await own.close();
    await node.stop();
  }
});

test('publish refuses a message that does not match its contract, and nothing is queued', async () => {
  await assert.rejects(broker.publish(routes.build, imageMessage, { ...buildMessage(), email: 'not an address' }), /email/);
  assert.equal(await getRaw(queues.image), null);
});

test('a malformed message is dead-lettered after one delivery and does not block the next valid one', async () => {
  const seen: string[] = [];
  const consumer = await connectTestBroker('dlq-consumer');
  try {
    await consumer.consume(queues.image, imageMessage, async (m) => {
      seen.push(m.id);
    }, { prefetch: 1 });
    await publishRaw(exchanges.image, routes.build.key, '{"id": "nope", "email": 3}');
    await publishRaw(exchanges.image, routes.build.key, 'this is not json');
    const valid = buildMessage();
    await broker.publish(routes.build, imageMessage, valid);
    await waitFor('the valid message', async () => seen.includes(valid.id), { timeoutMs: 10_000 });
    assert.deepEqual(seen, [valid.id]);
    const dead = await waitFor('both dead letters', async () => {
      const bodies = await peekRaw(queues.deadLetter);
      return bodies.length === 2 ? bodies : null;
    }, { timeoutMs: 10_000 });
    assert.deepEqual(dead.sort(), ['this is not json', '{"id": "nope", "email": 3}']);
  } finally {
    await consumer.close();
  }
});

test('a message whose handler keeps failing is dead-lettered after the delivery limit, not redelivered for ever', async () => {
  let calls = 0;
  const consumer = await connectTestBroker('failing-consumer');
  try {
    await consumer.consume(queues.image, imageMessage, async () => {
      calls++;
      throw new Error('always fails');
    }, { prefetch: 1, retryDelayMs: () => 20 });
    const msg = buildMessage();
    await broker.publish(routes.build, imageMessage, msg);
    const dead = await waitFor('the dead letter', () => getRaw(queues.deadLetter), { timeoutMs: 20_000, intervalMs: 300 });
    assert.deepEqual(dead.body, msg);
    // x-delivery-limit 5: the first delivery plus five redeliveries.
    assert.equal(calls, 6);
  } finally {
    await consumer.close();
  }
});

test('a consumer killed before acking gets its message redelivered to the next consumer', async () => {
  const msg = buildMessage();
  await broker.publish(routes.build, imageMessage, msg);
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'shared/test/broker/fixtures/hold-consumer.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor('the first consumer to take the message', async () => out.includes(`got ${msg.id}`), { timeoutMs: 20_000 });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  const attempts: number[] = [];
  const consumer = await connectTestBroker('second-consumer');
  try {
    await consumer.consume(queues.image, imageMessage, async (m, info) => {
      if (m.id === msg.id) attempts.push(info.attempt);
    }, { prefetch: 1 });
    await waitFor('the redelivery', async () => attempts.length > 0, { timeoutMs: 20_000 });
    assert.deepEqual(attempts, [2]);
  } finally {
    await consumer.close();
  }
});

test('a publish the broker refuses closes only its channel: the next publish goes through', async () => {
  // RabbitMQ closes the channel (not the connection) for a publish it refuses, here to an
  // exchange that does not exist; a message over the size limit does the same.
  await assert.rejects(broker.publish({ exchange: 'no_such_exchange', key: 'x' } as never, imageMessage, buildMessage()));
  const msg = buildMessage();
  await broker.publish(routes.build, imageMessage, msg);
  assert.deepEqual((await getRaw(queues.image))?.body, msg);
});

test('a message RabbitMQ nacks is published again, and arrives once the queue takes it', async () => {
  // A (classic) queue that refuses what it has no room for: RabbitMQ nacks a publish to it while it
  // is full, at once (a quorum queue applies its length limit a little later).
  const setup = await amqp.connect(testEnv.amqpUrl);
  const ch = await setup.createConfirmChannel();
  const exchange = 'img_test_nack_x';
  const queue = 'img_test_nack_q';
  try {
    await ch.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
    await ch.deleteQueue(queue);
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue(queue, exchange, 'k');
    ch.publish(exchange, 'k', Buffer.from('"filler"'), { persistent: true });
    await ch.waitForConfirms();

    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('nack-test', { level: 'debug', destination: { write: (l: string) => { lines.push(JSON.parse(l) as Record<string, unknown>); } } } as never);
    const own = await Broker.connect({ url: testEnv.amqpUrl, logger, name: 'nack-test', maxConnectAttempts: 3 });
    try {
      const msg = buildMessage();
      let settled: 'confirmed' | Error | undefined;
      const publishing = own.publish({ exchange, key: 'k' } as never, imageMessage, msg).then(() => { settled = 'confirmed'; }, (err: Error) => { settled = err; });
      await waitFor('the first nack', async () => lines.some((l) => l.msg === 'RabbitMQ refused the message (nack); publishing it again'), { timeoutMs: 30_000, intervalMs: 20 });
      assert.equal(settled, undefined, 'the caller is not told of a nack it can still get past');
      // Room in the queue: the next attempt is taken.
      assert.equal((await ch.get(queue, { noAck: true }) as amqp.GetMessage).content.toString(), '"filler"');
      await publishing;
      assert.equal(settled, 'confirmed');
      const got = await ch.get(queue, { noAck: true });
      assert.ok(got, 'the message is in the queue');
      assert.deepEqual(JSON.parse(got.content.toString()), msg);
      assert.equal(await ch.get(queue, { noAck: true }), false, 'once');
    } finally {
      await own.close();
    }
  } finally {
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await setup.close();
  }
});
