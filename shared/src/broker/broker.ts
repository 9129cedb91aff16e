// One AMQP connection per process, kept alive: reconnects with backoff, declares the topology again
// and re-registers every consumer. A consumer whose channel the broker closes while the connection
// lives (an ack past consumer_timeout, a refused ack, its queue deleted) is reopened too, so a
// service never stays connected while consuming nothing. Publishing goes through a confirm channel
// with persistent messages; consuming acks only after the handler has stored its effect.
// Given the addresses of several nodes of a cluster, it connects to the first that answers and,
// when its node goes away, moves to the next; a message the lost node had not confirmed is
// published again there.
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Channel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { BrokerMetrics } from '../metrics/index.ts';
import type { Logger } from '../logging/index.ts';
import { redactUrl } from '../logging/index.ts';
import { DEFAULT_BACKOFF, RetryAbortedError, abortableSleep, retryWithBackoff, type Backoff } from '../lifecycle/backoff.ts';
import { declareTopology, DEFAULT_DELIVERY_LIMIT, queues, type QueueName, type Route } from './topology.ts';

export interface BrokerOptions {
  /** One node's address, or several nodes of one cluster: tried in this order, moving on when one goes. */
  url: string | readonly string[];
  logger: Logger;
  /** Shown in RabbitMQ's management UI and in logs. */
  name: string;
  heartbeatSeconds?: number;
  deliveryLimit?: number;
  /** Give up connecting after this many attempts (default: never, for services; tests set it). */
  maxConnectAttempts?: number;
  /** Reconnect and consumer-reopen schedule; default DEFAULT_BACKOFF (at most 3 s, with jitter). */
  backoff?: Backoff;
  /** Counts reconnects and dead letters (shared/metrics); none: not counted. */
  metrics?: BrokerMetrics;
  /** How long one address may take to answer before the next is tried (default 10 s): a dead host may not refuse, only stay silent. */
  connectTimeoutMs?: number;
}

/**
 * How many times one message is published in all: the first try, and once more after each
 * connection lost before the broker confirmed it.
 */
const PUBLISH_ATTEMPTS = 5;
/** Pauses before publishing a nacked message again: doubling from the first to the last. */
const NACK_PAUSE_MS = { first: 250, max: 4000 };
/** How long a message RabbitMQ keeps nacking is published again before the caller hears of it. */
const NACK_RETRY_MS = 60_000;

export interface DeliveryInfo {
  /** 1 on the first delivery; counted by the quorum queue, so it survives consumer crashes. */
  attempt: number;
  redelivered: boolean;
  messageId: string | undefined;
  routingKey: string;
}

export type Handler<T> = (message: T, info: DeliveryInfo) => Promise<void>;

export interface ConsumeOptions {
  prefetch: number;
  /** How long to wait before handing a failed message back, by attempt; default 1s·2^(attempt-1), at most 30s. */
  retryDelayMs?: (attempt: number) => number;
}

interface ConsumerSpec {
  /** A named queue, or an exchange to hear through an exclusive queue of this connection's own. */
  queue: QueueName;
  fanout?: string;
  schema: z.ZodTypeAny;
  handler: Handler<unknown>;
  opts: ConsumeOptions;
  channel?: Channel;
  tag?: string;
  /** Set while the consumer is being reopened after the broker closed its channel. */
  reopening?: Promise<void>;
}

export class BrokerClosedError extends Error {
  constructor() {
    super('the broker connection is closed');
  }
}

/**
 * Thrown by a handler for a message that must not be acted on and must not be retried (it names a
 * job IMG has no record of, say): the message goes to the dead-letter queue, where an operator can
 * read it, instead of being dropped.
 */
export class DeadLetter extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export class Broker {
  private conn?: ChannelModel;
  private pubChannel?: ConfirmChannel;
  private readonly consumers: ConsumerSpec[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private connecting?: Promise<void>;
  private readonly log: Logger;
  /** Aborted by close(): wakes every reconnect or reopen that is waiting out a backoff. */
  private readonly stopped = new AbortController();
  private readonly urls: readonly string[];
  /** The address the next connection tries first: the one after the node that went away. */
  private nextUrl = 0;

  private constructor(private readonly opts: BrokerOptions) {
    this.log = opts.logger.child({ component: 'broker' });
    this.urls = typeof opts.url === 'string' ? [opts.url] : [...opts.url];
    if (this.urls.length === 0) throw new Error('no RabbitMQ address given');
  }

  /** Connects, retrying with backoff and saying so in the log, until it succeeds or attempts run out. */
  static async connect(opts: BrokerOptions): Promise<Broker> {
    const b = new Broker(opts);
    await b.ensureConnected();
    return b;
  }

  private everConnected = false;

  get connected(): boolean {
    return this.conn !== undefined;
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.closing) return Promise.reject(new BrokerClosedError());
    this.connecting ??= this.connectLoop().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    const where = this.urls.map(redactUrl).join(', ');
    let attempts = 0;
    try {
      await retryWithBackoff(async (attempt) => {
        attempts = attempt;
        const url = await this.openAny();
        this.log.info({ url: redactUrl(url), attempt }, 'connected to RabbitMQ');
        if (this.everConnected) this.opts.metrics?.reconnected();
        this.everConnected = true;
      }, {
        backoff: this.opts.backoff ?? DEFAULT_BACKOFF,
        maxAttempts: this.opts.maxConnectAttempts,
        signal: this.stopped.signal,
        onRetry: (attempt, delay, err) => this.log.warn({ url: where, attempt, retryInMs: delay, err: err.message }, 'RabbitMQ unreachable, retrying'),
      });
    } catch (err) {
      if (err instanceof RetryAbortedError) throw new BrokerClosedError();
      throw new Error(`RabbitMQ at ${where} is unreachable after ${attempts} attempts: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * One attempt: every address once, from the one after the node last lost. Backing off between
   * addresses would only keep a service waiting while another node answers.
   */
  private async openAny(): Promise<string> {
    const failures: string[] = [];
    for (let i = 0; i < this.urls.length; i++) {
      const at = (this.nextUrl + i) % this.urls.length;
      const url = this.urls[at]!;
      try {
        await this.open(url);
        // The next connection, made because this one went, starts with the node after this one.
        this.nextUrl = (at + 1) % this.urls.length;
        return url;
      } catch (err) {
        if (err instanceof BrokerClosedError) throw err;
        failures.push(this.urls.length > 1 ? `${redactUrl(url)}: ${(err as Error).message}` : (err as Error).message);
      }
    }
    throw new Error(failures.join('; '));
  }

  private async open(url: string): Promise<void> {
    const conn = await amqp.connect(url, {
      heartbeat: this.opts.heartbeatSeconds ?? 30,
      clientProperties: { connection_name: this.opts.name },
      timeout: this.opts.connectTimeoutMs ?? 10_000,
    });
    // Listened to from the start: an 'error' event nobody listens to would throw inside amqplib.
    conn.on('error', (err) => this.log.warn({ url: redactUrl(url), err: err.message }, 'connection error'));
    let pub: ConfirmChannel;
    try {
      const { deadLetterQueue } = await declareTopology(conn, this.opts.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT);
      if (deadLetterQueue === 'classic') this.log.warn(`${queues.deadLetter} is a classic queue, kept on one node only: delete it once read, and it is declared again as a quorum queue`);
      if (deadLetterQueue === 'unavailable') this.log.error(`${queues.deadLetter} is a classic queue whose node is down: messages dead-lettered now are lost; delete it once its node is back, and it is declared again as a quorum queue`);
      pub = await this.openPublishChannel(conn);
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    if (this.closing) {
      await conn.close().catch(() => {});
      throw new BrokerClosedError();
    }
    this.conn = conn;
    this.pubChannel = pub;
    conn.on('close', () => this.onConnectionClosed(conn));
    // One consumer the broker refuses (its queue gone, say) must not cost the others their
    // connection: it is reopened on its own schedule.
    for (const c of this.consumers) {
      await this.startConsumer(c).catch((err: Error) => {
        this.log.warn({ queue: describe(c), err: err.message }, 'consumer could not start, retrying');
        this.reopenConsumer(c, conn);
      });
    }
  }

  /**
   * The broker closes a channel, not the connection, when it refuses one publish (say, a message
   * over its size limit); the next publish must not inherit that dead channel.
   */
  private async openPublishChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err) => this.log.error({ err: err.message }, 'publish channel error'));
    ch.on('close', () => {
      if (this.pubChannel === ch) this.pubChannel = undefined;
    });
    return ch;
  }

  /**
   * Stops publishing on a channel: the next publish opens another. Whatever else was published on
   * it is confirmed or refused first, then it is closed.
   */
  private retirePublishChannel(ch: ConfirmChannel): void {
    if (this.pubChannel !== ch) return;
    this.pubChannel = undefined;
    ch.waitForConfirms().catch(() => {}).finally(() => { ch.close().catch(() => {}); });
  }

  private onConnectionClosed(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pubChannel = undefined;
    for (const c of this.consumers) {
      c.channel = undefined;
      c.tag = undefined;
    }
    if (this.closing) return;
    this.log.warn('connection to RabbitMQ lost, reconnecting');
    this.ensureConnected().catch((err) => this.log.error({ err: (err as Error).message }, 'reconnect abandoned'));
  }

  /**
   * Validates against the schema, publishes persistently and waits for the broker's confirm. If the
   * connection goes before the confirm (its node died, say), the message may or may not be queued:
   * it is published again, with the same message id, once connected again (to another node of a
   * cluster, if there is one). So a message is delivered at least once, and may be delivered twice;
   * every consumer takes a duplicate as it takes a redelivery. A nack (RabbitMQ could not take the
   * message: a queue's process failed, or a quorum queue lost its leader with the node going away)
   * is published again too, after a pause, on whichever connection is live then, for up to
   * NACK_RETRY_MS (a node under a memory alarm nacks until it recovers or dies). What the broker
   * refuses otherwise (an unknown exchange closes the channel) is not retried: the caller hears of
   * it, as it does after PUBLISH_ATTEMPTS lost connections.
   */
  async publish<S extends z.ZodTypeAny>(route: Route, schema: S, message: z.input<S>): Promise<void> {
    const body = schema.parse(message) as unknown;
    const content = Buffer.from(JSON.stringify(body));
    const messageId = randomUUID();
    let lost = 0;
    let nacks = 0;
    let firstNack = 0;
    for (let attempt = 1; ; attempt++) {
      await this.ensureConnected();
      const conn = this.conn;
      if (!this.pubChannel && conn) {
        const opened = await this.openPublishChannel(conn).catch((err: Error) => {
          if (this.conn === conn) throw err;
          return undefined; // the connection went meanwhile: the next attempt waits for another
        });
        // Another publish may have opened one meanwhile: one channel is used, the other closed.
        if (opened && (this.pubChannel || this.conn !== conn)) opened.close().catch(() => {});
        else if (opened) this.pubChannel = opened;
      }
      const ch = this.pubChannel;
      if (!ch || !conn || this.conn !== conn) {
        if (this.closing) throw new BrokerClosedError();
        if (++lost >= PUBLISH_ATTEMPTS) throw new Error(`no channel to publish on: the connection to RabbitMQ was lost ${lost} times`);
        continue;
      }
      try {
        await new Promise<void>((resolve, reject) => {
          const ok = ch.publish(route.exchange, route.key, content, {
            persistent: true,
            contentType: 'application/json',
            messageId,
            timestamp: Math.floor(Date.now() / 1000),
            appId: this.opts.name,
          }, (err) => (err ? reject(new Error(`RabbitMQ did not confirm the message to ${route.exchange}/${route.key}: ${(err as Error).message}`)) : resolve()));
          // The callback above still fires when the buffer is full; this only avoids piling up more.
          if (!ok) this.log.debug('publish buffer full');
        });
        if (attempt > 1) this.log.info({ messageId, attempt }, 'message confirmed after the connection was lost');
        return;
      } catch (err) {
        // amqplib fails the channel's confirms just before it reports the connection closed.
        await new Promise((r) => setImmediate(r));
        const connectionLost = this.conn !== conn;
        const nacked = !connectionLost && /message nacked/.test((err as Error).message);
        if ((!connectionLost && !nacked) || this.closing) throw err;
        if (connectionLost) {
          if (++lost >= PUBLISH_ATTEMPTS) throw err;
          this.log.warn({ messageId, route: `${route.exchange}/${route.key}`, attempt }, 'connection lost before RabbitMQ confirmed the message; publishing it again');
        } else {
          if (nacks === 0) firstNack = Date.now();
          if (Date.now() - firstNack >= NACK_RETRY_MS) throw err;
          const pause = Math.min(NACK_PAUSE_MS.max, NACK_PAUSE_MS.first * 2 ** nacks++);
          // Once per kind of trouble in the log, then at debug: a node nacking for a minute is one event.
          this.log[nacks === 1 ? 'warn' : 'debug']({ messageId, route: `${route.exchange}/${route.key}`, attempt, nacks }, 'RabbitMQ refused the message (nack); publishing it again');
          // On a channel of its own: a quorum queue's client in the channel that nacked keeps
          // refusing (it registered with a leader that died, and waits for word from it), while a
          // new channel finds the queue's new leader.
          this.retirePublishChannel(ch);
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    }
  }

  /**
   * A channel of the caller's own on the live connection, for what the consumers here do not do
   * (the stream queues of live logs: shared/src/live-log). It dies with the connection; the caller
   * opens another then (this waits for the reconnect).
   */
  async openChannel(opts: { confirm: true }): Promise<ConfirmChannel>;
  async openChannel(opts?: { confirm?: false }): Promise<Channel>;
  async openChannel(opts: { confirm?: boolean } = {}): Promise<Channel | ConfirmChannel> {
    await this.ensureConnected();
    const conn = this.conn;
    if (!conn) throw new BrokerClosedError();
    return opts.confirm ? conn.createConfirmChannel() : conn.createChannel();
  }

  /** Registers a consumer; it survives reconnects. */
  async consume<S extends z.ZodTypeAny>(queue: QueueName, schema: S, handler: Handler<z.infer<S>>, opts: ConsumeOptions): Promise<void> {
    const spec: ConsumerSpec = { queue, schema, handler: handler as Handler<unknown>, opts };
    this.consumers.push(spec);
    if (this.conn) await this.startConsumer(spec);
  }

  /**
   * Hears every message published to a fanout exchange, through an exclusive queue that lives as
   * long as this connection (declared again after a reconnect). For broadcasts such as cancel.
   */
  async subscribe<S extends z.ZodTypeAny>(exchange: string, schema: S, handler: Handler<z.infer<S>>): Promise<void> {
    const spec: ConsumerSpec = { queue: '' as QueueName, fanout: exchange, schema, handler: handler as Handler<unknown>, opts: { prefetch: 10, retryDelayMs: () => 200 } };
    this.consumers.push(spec);
    if (this.conn) await this.startConsumer(spec);
  }

  /**
   * Opens the consumer's channel and consumes. If this throws, the caller retries; once consuming,
   * the channel's own close event brings it back (see onConsumerChannelClosed).
   */
  private async startConsumer(spec: ConsumerSpec, opts: { declare?: boolean } = {}): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    const ch = await conn.createChannel();
    let consuming = false;
    let settling = 0;
    ch.on('error', (err) => this.log.error({ queue: describe(spec), err: err.message }, 'consumer channel error'));
    ch.on('close', () => {
      if (consuming) this.onConsumerChannelClosed(spec, ch, conn);
    });
    try {
      // After the broker closed the channel the queue may be gone too (deleted by hand, say).
      if (opts.declare) await declareTopology(conn, this.opts.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT);
      await ch.prefetch(spec.opts.prefetch);
      let queue: string = spec.queue;
      if (spec.fanout) {
        queue = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
        await ch.bindQueue(queue, spec.fanout, '');
      }
      spec.channel = ch;
      const { consumerTag } = await ch.consume(queue, (msg) => {
        if (!msg) {
          // The broker cancelled the consumer (its queue was deleted) but kept the channel: close
          // it once the deliveries in flight have been acked, and the close reopens the consumer.
          this.log.warn({ queue: describe(spec) }, 'the broker cancelled the consumer, reopening it');
          spec.tag = undefined;
          const closeWhenSettled = () => (settling === 0 ? void ch.close().catch(() => {}) : setTimeout(closeWhenSettled, 100));
          closeWhenSettled();
          return;
        }
        settling++;
        const p = this.deliver(spec, ch, msg).finally(() => {
          settling--;
          this.inFlight.delete(p);
        });
        this.inFlight.add(p);
      }, { noAck: false });
      spec.tag = consumerTag;
      consuming = true;
    } catch (err) {
      if (spec.channel === ch) spec.channel = undefined;
      await ch.close().catch(() => {});
      throw err;
    }
    this.log.info({ queue: describe(spec), prefetch: spec.opts.prefetch }, 'consuming');
  }

  private onConsumerChannelClosed(spec: ConsumerSpec, ch: Channel, conn: ChannelModel): void {
    if (spec.channel !== ch) return;
    spec.channel = undefined;
    spec.tag = undefined;
    // A channel also closes when its connection goes; then the reconnect restores every consumer.
    // amqplib closes the channels just before it reports the connection closed, so look after that.
    setImmediate(() => {
      if (this.closing || this.conn !== conn || !this.consumers.includes(spec)) return;
      this.log.warn({ queue: describe(spec) }, 'the broker closed the consumer channel, reopening it');
      this.reopenConsumer(spec, conn);
    });
  }

  /**
   * Reopens one consumer on the connection it lost its channel on, with backoff, until it consumes
   * again, the connection goes (the reconnect takes over), or the consumer is stopped.
   * Deliveries still in flight on the closed channel finish, but their acks are lost: the broker
   * has already put those messages back, and the handlers must take a redelivery (they do).
   */
  private reopenConsumer(spec: ConsumerSpec, conn: ChannelModel): void {
    if (spec.reopening) return;
    const current = () => !this.closing && this.conn === conn && this.consumers.includes(spec);
    spec.reopening = retryWithBackoff(async (attempt) => {
      if (!current() || spec.channel) return;
      await this.startConsumer(spec, { declare: true });
      this.log.info({ queue: describe(spec), attempt }, 'consumer reopened');
    }, {
      backoff: this.opts.backoff ?? DEFAULT_BACKOFF,
      signal: this.stopped.signal,
      onRetry: (attempt, delay, err) => {
        if (current()) this.log.warn({ queue: describe(spec), attempt, retryInMs: delay, err: err.message }, 'consumer could not be reopened, retrying');
      },
    }).catch(() => {
      /* stopped by close() */
    }).finally(() => {
      spec.reopening = undefined;
    });
    // Every attempt after the connection went is a no-op, so the loop ends with the connection.
  }

  private async deliver(spec: ConsumerSpec, ch: Channel, msg: ConsumeMessage): Promise<void> {
    const headers = msg.properties.headers ?? {};
    const attempt = Number(headers['x-delivery-count'] ?? 0) + 1;
    const info: DeliveryInfo = {
      attempt,
      redelivered: msg.fields.redelivered,
      messageId: msg.properties.messageId as string | undefined,
      routingKey: msg.fields.routingKey,
    };
    const log = this.log.child({ queue: spec.queue, messageId: info.messageId, attempt });
    let parsed: unknown;
    try {
      const result = spec.schema.safeParse(JSON.parse(msg.content.toString('utf8')));
      if (!result.success) {
        const issues = result.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
        log.warn({ issues }, 'invalid message dead-lettered');
        this.opts.metrics?.deadLettered(spec.queue, 'invalid');
        safe(() => ch.nack(msg, false, false));
        return;
      }
      parsed = result.data;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'message is not JSON, dead-lettered');
      this.opts.metrics?.deadLettered(spec.queue, 'not_json');
      safe(() => ch.nack(msg, false, false));
      return;
    }
    try {
      await spec.handler(parsed, info);
      safe(() => ch.ack(msg));
    } catch (err) {
      if (err instanceof DeadLetter) {
        log.warn({ reason: err.reason }, 'message refused, dead-lettered');
        this.opts.metrics?.deadLettered(spec.queue, 'refused');
        safe(() => ch.nack(msg, false, false));
        return;
      }
      const delay = (spec.opts.retryDelayMs ?? defaultRetryDelay)(attempt);
      log.error({ err: (err as Error).message, retryInMs: delay }, 'handler failed, the message goes back to the queue');
      await abortableSleep(delay, this.stopped.signal);
      // After the queue's delivery limit RabbitMQ dead-letters it rather than redelivering.
      if (attempt > (this.opts.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT)) this.opts.metrics?.deadLettered(spec.queue, 'delivery_limit');
      safe(() => ch.nack(msg, false, true));
    }
  }

  /** Stops taking new messages; lets the handlers in flight finish (their acks still go out). */
  async stopConsuming(): Promise<void> {
    const stopping = this.consumers.splice(0);
    for (const c of stopping) {
      if (c.channel && c.tag) await c.channel.cancel(c.tag).catch(() => {});
      c.tag = undefined;
    }
    await Promise.allSettled([...this.inFlight, ...stopping.map((c) => c.reopening)]);
  }

  /**
   * Safe to call twice. By default waits for the handlers in flight; with `handBack` it closes the
   * connection at once, so RabbitMQ puts their unacked messages back for another consumer.
   */
  async close(opts: { handBack?: boolean } = {}): Promise<void> {
    if (this.closing) return;
    if (opts.handBack) this.consumers.length = 0;
    else await this.stopConsuming();
    this.closing = true;
    this.stopped.abort();
    const conn = this.conn;
    this.conn = undefined;
    this.pubChannel = undefined;
    if (conn) await conn.close().catch(() => {});
  }
}

function defaultRetryDelay(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}

function safe(fn: () => void): void {
  // An ack on a channel that died with its connection throws; the broker redelivers that message.
  try {
    fn();
  } catch {
    /* redelivered by the broker */
  }
}

function describe(spec: ConsumerSpec): string {
  return spec.fanout ? `${spec.fanout} (fanout)` : spec.queue;
}
