// The whole RabbitMQ topology, declared in this one place and declared again on every reconnect.
// Work queues are quorum queues: they count deliveries, so a message that keeps failing is
// dead-lettered after `deliveryLimit` attempts instead of blocking its queue for ever, and on a
// RabbitMQ cluster they are replicated, so losing one node of three loses no message.
import type { Channel, ChannelModel } from 'amqplib';

export const exchanges = {
  image: 'image_exchange',
  result: 'result_exchange',
  deadLetter: 'dead_letter_exchange',
  /** Fanout: cancel requests, heard by every image-creator through a queue of its own. */
  control: 'control_exchange',
} as const;

export const queues = {
  kickstarter: 'kickstarter_queue',
  image: 'image_queue',
  link: 'link_queue',
  error: 'error_queue',
  result: 'result_queue',
  notify: 'notify_queue',
  /** Every outcome again, for webhooks: a receiver that is down holds back its own posts, never the emails. */
  webhook: 'webhook_queue',
  deadLetter: 'dead_letter_queue',
} as const;
export type QueueName = (typeof queues)[keyof typeof queues];

/** Where each kind of message is published: an exchange and a routing key. */
export const routes = {
  kickstart: { exchange: exchanges.image, key: 'kickstart' },
  build: { exchange: exchanges.image, key: 'build' },
  link: { exchange: exchanges.result, key: 'link' },
  error: { exchange: exchanges.result, key: 'error' },
  result: { exchange: exchanges.result, key: 'result' },
  cancelled: { exchange: exchanges.result, key: 'cancelled' },
  cancel: { exchange: exchanges.control, key: '' },
} as const;
export type Route = (typeof routes)[keyof typeof routes];

const bindings: Array<{ queue: QueueName; exchange: string; key: string }> = [
  { queue: queues.kickstarter, ...routes.kickstart },
  { queue: queues.image, ...routes.build },
  { queue: queues.link, ...routes.link },
  { queue: queues.error, ...routes.error },
  { queue: queues.result, ...routes.result },
  // The notifier hears every outcome: success, failure and cancellation.
  { queue: queues.notify, ...routes.link },
  { queue: queues.notify, ...routes.error },
  { queue: queues.notify, ...routes.cancelled },
  { queue: queues.webhook, ...routes.link },
  { queue: queues.webhook, ...routes.error },
  { queue: queues.webhook, ...routes.cancelled },
];

export const DEFAULT_DELIVERY_LIMIT = 5;

/** What became of the dead-letter queue: see declareDeadLetterQueue. */
export type DeadLetterQueueKind = 'quorum' | 'classic' | 'unavailable';

/**
 * Declares everything, each step on a channel of its own (a refused declaration closes its channel).
 * Every queue that outlives a connection is a quorum queue, so on a cluster it is replicated to
 * every node it had when it was declared and stays available while a majority of them is up.
 */
export async function declareTopology(conn: ChannelModel, deliveryLimit = DEFAULT_DELIVERY_LIMIT): Promise<{ deadLetterQueue: DeadLetterQueueKind }> {
  await withChannel(conn, async (ch) => {
    await ch.assertExchange(exchanges.image, 'direct', { durable: true });
    await ch.assertExchange(exchanges.result, 'direct', { durable: true });
    await ch.assertExchange(exchanges.deadLetter, 'fanout', { durable: true });
    await ch.assertExchange(exchanges.control, 'fanout', { durable: true });
    for (const q of [queues.kickstarter, queues.image, queues.link, queues.error, queues.result, queues.notify, queues.webhook]) {
      await ch.assertQueue(q, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-delivery-limit': deliveryLimit,
          'x-dead-letter-exchange': exchanges.deadLetter,
        },
      });
    }
    for (const b of bindings) await ch.bindQueue(b.queue, b.exchange, b.key);
  });
  return { deadLetterQueue: await declareDeadLetterQueue(conn) };
}

/**
 * The dead-letter queue is a quorum queue. IMG before clusters declared it as a classic queue, which
 * lives on one node only: on a cluster that has lost that node, declaring it fails ("home node ...
 * is down or inaccessible"), and a service that required it could not connect at all. So an
 * existing classic one is kept as it is ('classic': the operator deletes it, once read, to have it
 * declared again as a quorum queue), and one whose node is down is passed over ('unavailable':
 * nothing is dead-lettered into it until its node is back).
 */
async function declareDeadLetterQueue(conn: ChannelModel): Promise<DeadLetterQueueKind> {
  let kind: DeadLetterQueueKind = 'quorum';
  try {
    await withChannel(conn, (ch) => ch.assertQueue(queues.deadLetter, { durable: true, arguments: { 'x-queue-type': 'quorum' } }));
  } catch (err) {
    if (replyCode(err) === PRECONDITION_FAILED) kind = 'classic';
    else if (isHomeNodeDown(err)) return 'unavailable';
    else throw err;
  }
  try {
    await withChannel(conn, (ch) => ch.bindQueue(queues.deadLetter, exchanges.deadLetter, ''));
  } catch (err) {
    if (isHomeNodeDown(err)) return 'unavailable';
    throw err;
  }
  return kind;
}

const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;

function replyCode(err: unknown): number | undefined {
  return (err as { code?: unknown }).code as number | undefined;
}

function isHomeNodeDown(err: unknown): boolean {
  return replyCode(err) === NOT_FOUND && /home node .* is down or inaccessible/.test((err as Error).message);
}

async function withChannel<T>(conn: ChannelModel, fn: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await conn.createChannel();
  // The broker closes the channel to refuse a declaration: the refusal is the call's rejection,
  // and an 'error' event nobody listens to would throw inside amqplib.
  ch.on('error', () => {});
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => {});
  }
}
