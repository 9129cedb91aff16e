// A consumer channel the broker closes is reopened while the connection lives, and a lost
// connection brings every consumer back. These run against a RabbitMQ node of their own, started
// with consumer_timeout lowered to 1 s, so the broker really closes the channel the way it does in
// production when a delivery stays unacked past the timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { Broker, queues, routes, declareTopology } from '../../src/broker/index.ts';
import { imageMessage, kickstarterMessage, type ImageMessage } from '../../src/contracts/index.ts';
import { newJobId } from '../../src/jobs/index.ts';
import { testLogger, waitFor } from '../../src/testing/index.ts';
import { startRabbitNode, type RabbitNode } from './fixtures/rabbit-node.ts';

const CONSUMER_TIMEOUT_MS = 1000;

function buildMessage(): ImageMessage {
  return { id: newJobId(), email: 'someone@example.com', imagetype: 'tar', ksfile: '%packages\nhostname\n%end\n', version: 1 };
}

let node: RabbitNode;
before(async () => {
  node = await startRabbitNode({
    conf: `consumer_timeout = ${CONSUMER_TIMEOUT_MS}\n`,
    // The channel checks the timeout on its tick (60 s by default); tick often so the test is quick.
    advanced: '[{rabbit, [{channel_tick_interval, 200}]}].\n',
  });
});
after(async () => {
  await node?.stop();
});

/** Asks the broker, not the client: how many consumers the queue has, and how many messages wait. */
async function queueState(queue: string): Promise<{ consumerCount: number; messageCount: number }> {
  const conn = await amqp.connect(node.url);
  try {
    await declareTopology(conn);
    const ch = await conn.createChannel();
    return await ch.checkQueue(queue);
  } finally {
    await conn.close();
  }
}

async function connect(name: string): Promise<Broker> {
  return Broker.connect({ url: node.url, logger: testLogger(name), name, maxConnectAttempts: 3, backoff: { initialMs: 100, maxMs: 500 } });
}

type Seen = { id: string; attempt: number };

test('a delivery held past consumer_timeout: the broker closes the channel, the consumer reopens and consumes again', async () => {
  const broker = await connect('reopen-timeout');
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  try {
    const seen: Seen[] = [];
    const first = buildMessage();
    await broker.consume(queues.image, imageMessage, async (m, info) => {
      seen.push({ id: m.id, attempt: info.attempt });
      // The first delivery is held, unacked, well past the broker's consumer_timeout.
      if (m.id === first.id && info.attempt === 1) await held;
    }, { prefetch: 1 });
    await broker.publish(routes.build, imageMessage, first);
    // Only the broker closing the channel puts the held message back: the handler has not returned.
    // Seeing it again, as a second delivery, means a new channel consumes the queue.
    await waitFor('the held message to come back to a reopened consumer', async () => seen.some((s) => s.id === first.id && s.attempt === 2), { timeoutMs: 30_000 });
    const after = buildMessage();
    await broker.publish(routes.build, imageMessage, after);
    await waitFor('a message published after the close to be handled', async () => seen.some((s) => s.id === after.id), { timeoutMs: 15_000 });
    const state = await queueState(queues.image);
    assert.equal(state.consumerCount, 1, 'one consumer again, not none and not two');
    assert.equal(state.messageCount, 0);
  } finally {
    release();
    await broker.close();
  }
});

test('a consumer whose queue is deleted under it declares the queue again and consumes', async () => {
  const broker = await connect('reopen-deleted');
  try {
    const seen: string[] = [];
    await broker.consume(queues.kickstarter, kickstarterMessage, async (m) => {
      seen.push(m.id);
    }, { prefetch: 1 });
    const conn = await amqp.connect(node.url);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(queues.kickstarter);
    } finally {
      await conn.close();
    }
    await waitFor('the queue to be back with its consumer', async () => (await queueState(queues.kickstarter).catch(() => ({ consumerCount: 0 }))).consumerCount === 1, { timeoutMs: 15_000 });
    const id = newJobId();
    await broker.publish(routes.kickstart, kickstarterMessage, {
      id, email: 'someone@example.com', imagetype: 'tar', config: 'x: 1\n', platform: 'p', overlay: '', version: 1,
    });
    await waitFor('a message published after the deletion to be handled', async () => seen.includes(id), { timeoutMs: 15_000 });
  } finally {
    await broker.close();
  }
});

test('a lost connection is reopened, once the broker is back, with every consumer on it', async () => {
  const broker = await connect('reopen-connection');
  try {
    const seen: string[] = [];
    await broker.consume(queues.image, imageMessage, async (m) => {
      seen.push(m.id);
    }, { prefetch: 1 });
    await node.ctl('stop_app');
    try {
      await waitFor('the client to notice', async () => !broker.connected, { timeoutMs: 10_000, intervalMs: 20 });
    } finally {
      await node.ctl('start_app');
    }
    const msg = buildMessage();
    await broker.publish(routes.build, imageMessage, msg);
    await waitFor('a message published after the reconnect to be handled', async () => seen.includes(msg.id), { timeoutMs: 15_000 });
    assert.equal((await queueState(queues.image)).consumerCount, 1);
  } finally {
    await broker.close();
  }
});
