// The broker client against a RabbitMQ cluster of three nodes of the test's own (see
// fixtures/rabbit-cluster.ts): the work queues are replicated to every node, and a client given the
// three addresses moves to another node when its node dies, loses no message, and publishes again
// what the dead node had not confirmed. Nodes are killed with SIGKILL, as a host dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { Broker, exchanges, queues, routes } from '../../src/broker/index.ts';
import { imageMessage, type ImageMessage } from '../../src/contracts/index.ts';
import { newJobId } from '../../src/jobs/index.ts';
import { createLogger, redactUrl } from '../../src/logging/index.ts';
import { waitFor } from '../../src/testing/index.ts';
import { startRabbitCluster, type RabbitCluster } from './fixtures/rabbit-cluster.ts';
import type { RabbitNode } from './fixtures/rabbit-node.ts';

const workQueues = [queues.kickstarter, queues.image, queues.link, queues.error, queues.result, queues.notify, queues.webhook];

function buildMessage(): ImageMessage {
  return { id: newJobId(), email: 'someone@example.com', imagetype: 'tar', ksfile: '%packages\nhostname\n%end\n', version: 1 };
}

/** A client whose log lines the test can read: the broker says where it connected and what it did again. */
async function connect(name: string, urls: string[], opts: { retryForever?: boolean } = {}): Promise<{ broker: Broker; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger(name, {
    level: 'debug',
    destination: { write: (l: string) => { lines.push(JSON.parse(l) as Record<string, unknown>); } },
  } as never);
  const broker = await Broker.connect({ url: urls, logger, name, ...(opts.retryForever ? {} : { maxConnectAttempts: 20 }), backoff: { initialMs: 100, maxMs: 500 } });
  return { broker, lines };
}

/** Which node a client is connected to, as its last 'connected' log line says. */
function connectedTo(lines: Array<Record<string, unknown>>): RabbitNode | undefined {
  const url = lines.filter((l) => l.msg === 'connected to RabbitMQ').at(-1)?.url;
  return cluster.nodes.find((n) => redactUrl(n.url) === url);
}

async function messageCount(url: string, queue: string): Promise<number> {
  const conn = await amqp.connect(url);
  try {
    return (await (await conn.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

let cluster: RabbitCluster;
const nodeNamed = (name: string): RabbitNode => {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};
/** Kills a node; the next test brings it back first (the last one need not wait for that). */
const killed = new Set<RabbitNode>();
async function kill(node: RabbitNode): Promise<void> {
  killed.add(node);
  await node.kill();
}
async function revive(): Promise<void> {
  for (const n of killed) await n.start();
  killed.clear();
  await waitFor('every node back in the cluster', async () => (await cluster.running(cluster.nodes[0]!)).length === cluster.nodes.length, { timeoutMs: 60_000, intervalMs: 300 });
  // A quorum queue's member on a node that was down catches up once it is back.
  await waitFor('every work queue with its three members online', async () => {
    for (const q of workQueues) if ((await cluster.quorum(q)).online.length !== cluster.nodes.length) return false;
    return true;
  }, { timeoutMs: 60_000, intervalMs: 500 });
}

before(async () => {
  cluster = await startRabbitCluster();
});
after(async () => {
  await cluster?.stop();
});

test('every work queue and the dead-letter queue is a quorum queue with a member on each of the three nodes', async () => {
  const { broker } = await connect('declare', cluster.urls);
  try {
    for (const q of [...workQueues, queues.deadLetter]) {
      const { members, online, leader } = await cluster.quorum(q);
      assert.deepEqual(members, cluster.nodes.map((n) => n.name).sort(), `${q} has a member on every node`);
      assert.deepEqual(online, members, `${q}'s members are all online`);
      // Declared through the first node, so led from there (RabbitMQ's client-local placement).
      assert.equal(leader, cluster.nodes[0]!.name, `${q} is led by the node it was declared on`);
    }
  } finally {
    await broker.close();
  }
});

test('the node that leads the queues dies: its client moves to the next node, loses no message, and the message it held comes again', async () => {
  const { broker, lines } = await connect('failover', cluster.urls);
  const leader = nodeNamed((await cluster.quorum(queues.image)).leader);
  assert.equal(leader, cluster.nodes[0], 'the client is on the node that leads image_queue');
  assert.equal(connectedTo(lines), leader);
  try {
    const sent = Array.from({ length: 10 }, () => buildMessage());
    for (const m of sent) await broker.publish(routes.build, imageMessage, m);
    const seen: Array<{ id: string; attempt: number }> = [];
    let holding!: () => void;
    const held = new Promise<void>((r) => { holding = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    await broker.consume(queues.image, imageMessage, async (m, info) => {
      seen.push({ id: m.id, attempt: info.attempt });
      // The first delivery is in hand, unacked, when the node dies.
      if (seen.length === 1) {
        holding();
        await released;
      }
    }, { prefetch: 1 });
    await held;

    await kill(leader);
    await waitFor('the client to reconnect to another node', async () => broker.connected && connectedTo(lines) !== leader, { timeoutMs: 90_000 });
    assert.equal(connectedTo(lines), cluster.nodes[1], 'it went to the next address in its list');
    // The handler finishes after its channel died with the node: its ack is lost, the message comes again.
    release();

    const after = buildMessage();
    await broker.publish(routes.build, imageMessage, after);
    const wanted = [...sent, after].map((m) => m.id).sort();
    await waitFor('every message, the held one again', async () => new Set(seen.map((s) => s.id)).size === wanted.length, { timeoutMs: 90_000 });
    assert.deepEqual([...new Set(seen.map((s) => s.id))].sort(), wanted, 'no message lost');
    const first = sent[0]!.id;
    assert.equal(seen[0]!.id, first);
    assert.deepEqual(seen.filter((s) => s.id !== first).map((s) => s.attempt), Array(wanted.length - 1).fill(1), 'the others came once');
    assert.ok(seen.filter((s) => s.id === first).length === 2, 'the held message came a second time');

    const now = await cluster.quorum(queues.image, cluster.nodes[1]);
    assert.notEqual(now.leader, leader.name, 'a surviving node leads image_queue');
    assert.equal(now.online.length, 2);
  } finally {
    await broker.close();
  }
});

test('a consumer on a surviving node goes on consuming when the node that leads its queue dies', async () => {
  await revive();
  const leader = nodeNamed((await cluster.quorum(queues.image)).leader);
  const [consumerNode, publisherNode] = cluster.nodes.filter((n) => n !== leader) as [RabbitNode, RabbitNode];
  const consumer = await connect('survivor-consumer', [consumerNode.url]);
  const publisher = await connect('survivor-publisher', [publisherNode.url]);
  try {
    const seen: string[] = [];
    await consumer.broker.consume(queues.image, imageMessage, async (m) => {
      seen.push(m.id);
    }, { prefetch: 1 });
    const before = buildMessage();
    await publisher.broker.publish(routes.build, imageMessage, before);
    await waitFor('the first message', async () => seen.includes(before.id), { timeoutMs: 60_000 });

    await kill(leader);
    await waitFor('a new leader for image_queue', async () => (await cluster.quorum(queues.image, consumerNode)).leader !== leader.name, { timeoutMs: 90_000, intervalMs: 300 });
    const afterKill = Array.from({ length: 5 }, () => buildMessage());
    for (const m of afterKill) await publisher.broker.publish(routes.build, imageMessage, m);
    await waitFor('the messages published after the leader died', async () => afterKill.every((m) => seen.includes(m.id)), { timeoutMs: 90_000 });
    assert.deepEqual(seen, [before, ...afterKill].map((m) => m.id), 'each once, in order');
    // Neither client lost its connection: their nodes lived.
    assert.equal(consumer.lines.filter((l) => l.msg === 'connected to RabbitMQ').length, 1);
    assert.equal(publisher.lines.filter((l) => l.msg === 'connected to RabbitMQ').length, 1);
  } finally {
    await consumer.broker.close();
    await publisher.broker.close();
  }
});

test('a message its node never confirmed is published again on the next node when that node dies', async () => {
  await revive();
  const [first, second] = cluster.nodes as [RabbitNode, RabbitNode];
  const { broker, lines } = await connect('unconfirmed', [first.url, second.url]);
  assert.equal(connectedTo(lines), first);
  try {
    // A memory alarm makes RabbitMQ stop reading from publishing connections: the message is sent
    // and never confirmed, as when a node dies before it has taken what it was sent.
    await first.ctl('set_vm_memory_high_watermark', 'absolute', '1');
    const msg = buildMessage();
    let confirmed = false;
    const publishing = broker.publish(routes.build, imageMessage, msg).then(() => { confirmed = true; });
    await waitFor('the alarm to block the publisher', async () => (await first.ctl('list_connections', 'name', 'state')).includes('blocked'), { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(confirmed, false, 'not confirmed while the node does not read');

    await kill(first);
    await publishing.catch((err: Error) => {
      // What the client saw is what tells a node that kept nacking from one that never answered.
      throw new Error(`${err.message}\nthe client's log:\n${lines.slice(-40).map((l) => JSON.stringify(l)).join('\n')}`);
    });
    assert.equal(connectedTo(lines), second);
    // Published again: the node's connection went before it confirmed, or (a quorum queue losing the
    // leader it had on that node) RabbitMQ nacked the message first.
    assert.ok(lines.some((l) => l.msg === 'connection lost before RabbitMQ confirmed the message; publishing it again'
      || l.msg === 'RabbitMQ refused the message (nack); publishing it again'), 'the publisher says it published the message again');
    // The message is there, published again. A node under the alarm may still have taken the first
    // copy before it stopped reading (and died before it could confirm it): delivery is at least once,
    // so a second copy of the same message may sit beside it (consumers take a job's message once,
    // see duplicate-delivery.test.ts), but never another message and never none.
    const copies = await messageCount(second.url, queues.image);
    assert.ok(copies === 1 || copies === 2, `one copy, or two when the dead node had taken the first: ${copies}`);
    const conn = await amqp.connect(second.url);
    try {
      const ch = await conn.createChannel();
      for (let i = 0; i < copies; i++) {
        const got = await ch.get(queues.image, { noAck: true });
        assert.ok(got);
        assert.deepEqual(JSON.parse(got.content.toString()), msg);
      }
    } finally {
      await conn.close();
    }
  } finally {
    await broker.close();
  }
});

test('a classic dead-letter queue from before clusters is kept, and one whose node is down does not stop a client connecting', async () => {
  await revive();
  const [home, other] = cluster.nodes as [RabbitNode, RabbitNode];
  await home.ctl('add_vhost', 'legacy');
  await home.ctl('set_permissions', '-p', 'legacy', 'guest', '.*', '.*', '.*');
  const legacy = (n: RabbitNode) => `${n.url}legacy`;
  // What an IMG from before this change left: a classic queue, on the node it was declared on.
  const raw = await amqp.connect(legacy(home));
  await (await raw.createChannel()).assertQueue(queues.deadLetter, { durable: true });
  await raw.close();

  const first = await connect('legacy-dlq', [legacy(home)]);
  try {
    assert.ok(first.lines.some((l) => l.level === 40 && /dead_letter_queue is a classic queue, kept on one node only/.test(String(l.msg))));
    // Dead letters still land in it.
    await first.broker.consume(queues.image, imageMessage, async () => {}, { prefetch: 1 });
    const pub = await amqp.connect(legacy(home));
    const ch = await pub.createConfirmChannel();
    ch.publish(exchanges.image, routes.build.key, Buffer.from('not json'), { persistent: true });
    await ch.waitForConfirms();
    await pub.close();
    await waitFor('the dead letter', async () => (await messageCount(legacy(home), queues.deadLetter)) === 1, { timeoutMs: 60_000 });
  } finally {
    await first.broker.close();
  }

  // Its node dies: a client on another node still connects, and says what is lost meanwhile.
  await kill(home);
  const second = await connect('legacy-dlq-node-down', [legacy(other)]);
  try {
    assert.ok(second.lines.some((l) => l.level === 50 && /dead_letter_queue is a classic queue whose node is down/.test(String(l.msg))));
    // Everything else works: a message goes through image_queue.
    const seen: string[] = [];
    await second.broker.consume(queues.image, imageMessage, async (m) => { seen.push(m.id); }, { prefetch: 1 });
    const msg = buildMessage();
    await second.broker.publish(routes.build, imageMessage, msg);
    await waitFor('the message', async () => seen.includes(msg.id), { timeoutMs: 60_000 });
  } finally {
    await second.broker.close();
  }
});

test('two nodes of three die: the last one pauses and serves nobody; with a second node back, every confirmed message is there', async () => {
  await revive();
  const [first, second, last] = cluster.nodes as [RabbitNode, RabbitNode, RabbitNode];
  const { broker, lines } = await connect('minority', cluster.urls, { retryForever: true });
  try {
    const sent = Array.from({ length: 3 }, () => buildMessage());
    for (const m of sent) await broker.publish(routes.build, imageMessage, m);

    await kill(first);
    await kill(second);
    // pause_minority: alone, the last node stops its RabbitMQ application and takes no client.
    await waitFor('the last node to refuse clients', async () => {
      try {
        await (await amqp.connect(last.url)).close();
        return false;
      } catch {
        return true;
      }
    }, { timeoutMs: 60_000, intervalMs: 500 });
    await waitFor('the client to be retrying', async () => lines.some((l) => l.msg === 'RabbitMQ unreachable, retrying'), { timeoutMs: 90_000 });
    assert.equal(broker.connected, false);

    // A second node back: a majority again.
    await first.start();
    killed.delete(first);
    const seen: string[] = [];
    await broker.consume(queues.image, imageMessage, async (m) => { seen.push(m.id); }, { prefetch: 1 });
    await waitFor('every message confirmed before the two nodes died', async () => sent.every((m) => seen.includes(m.id)), { timeoutMs: 120_000, intervalMs: 500 });
    assert.deepEqual(seen, sent.map((m) => m.id));
  } finally {
    await broker.close();
  }
});

test('the whole cluster down: the client keeps trying every node, and what it publishes meanwhile goes out when the cluster is back', async () => {
  await revive();
  // As the services do: no limit on the attempts.
  const { broker, lines } = await connect('cluster-down', cluster.urls, { retryForever: true });
  try {
    const seen: string[] = [];
    await broker.consume(queues.image, imageMessage, async (m) => { seen.push(m.id); }, { prefetch: 1 });
    const before = buildMessage();
    await broker.publish(routes.build, imageMessage, before);

    for (const n of cluster.nodes) await kill(n);
    const retrying = () => lines.filter((l) => l.msg === 'RabbitMQ unreachable, retrying');
    await waitFor('the client to retry, more than once', async () => retrying().length >= 3, { timeoutMs: 90_000 });
    // Each attempt tries every node, and says what each answered.
    for (const n of cluster.nodes) assert.match(String(retrying().at(-1)!.err), new RegExp(`${redactUrl(n.url).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ECONNREFUSED`));
    assert.equal(broker.connected, false);
    let published = false;
    const during = buildMessage();
    const publishing = broker.publish(routes.build, imageMessage, during).then(() => { published = true; });
    await waitFor('two more attempts with the publish waiting', async () => retrying().length >= 5, { timeoutMs: 90_000 });
    assert.equal(published, false, 'the publish waits for the broker');

    // The nodes come back together (each waits at boot for the peers it last saw).
    await Promise.all(cluster.nodes.map((n) => n.start()));
    killed.clear();
    await publishing;
    await waitFor('both messages consumed', async () => seen.includes(before.id) && seen.includes(during.id), { timeoutMs: 60_000 });
    assert.ok(broker.connected);
  } finally {
    await broker.close();
  }
});
