// One AMQP connection per process, kept alive: reconnects with backoff, declares the topology again
// and re-registers every consumer. Publishing goes through a confirm channel with persistent
// messages; consuming acks only after the handler has stored its effect.
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Channel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Logger } from '../logging/index.ts';
import { redactUrl } from '../logging/index.ts';
import { declareTopology, DEFAULT_DELIVERY_LIMIT, type QueueName, type Route } from './topology.ts';

export interface BrokerOptions {
  url: string;
  logger: Logger;
  /** Shown in RabbitMQ's management UI and in logs. */
  name: string;
  heartbeatSeconds?: number;
  deliveryLimit?: number;
  /** Give up connecting after this many attempts (default: never, for services; tests set it). */
  maxConnectAttempts?: number;
  backoff?: { initialMs: number; maxMs: number };
}

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
}

export class BrokerClosedError extends Error {
  constructor() {
    super('the broker connection is closed');
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

  private constructor(private readonly opts: BrokerOptions) {
    this.log = opts.logger.child({ component: 'broker' });
  }

  /** Connects, retrying with backoff and saying so in the log, until it succeeds or attempts run out. */
  static async connect(opts: BrokerOptions): Promise<Broker> {
    const b = new Broker(opts);
    await b.ensureConnected();
    return b;
  }

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
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 500, maxMs: 15_000 };
    const where = redactUrl(this.opts.url);
    for (let attempt = 1; ; attempt++) {
      if (this.closing) throw new BrokerClosedError();
      try {
        await this.open();
        this.log.info({ url: where, attempt }, 'connected to RabbitMQ');
        return;
      } catch (err) {
        const max = this.opts.maxConnectAttempts;
        if (max !== undefined && attempt >= max) {
          throw new Error(`RabbitMQ at ${where} is unreachable after ${attempt} attempts: ${(err as Error).message}`, { cause: err });
        }
        const delay = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
        this.log.warn({ url: where, attempt, retryInMs: delay, err: (err as Error).message }, 'RabbitMQ unreachable, retrying');
        await sleep(delay);
      }
    }
  }

  private async open(): Promise<void> {
    const conn = await amqp.connect(this.opts.url, {
      heartbeat: this.opts.heartbeatSeconds ?? 30,
      clientProperties: { connection_name: this.opts.name },
    });
    try {
      const setup = await conn.createChannel();
      await declareTopology(setup, this.opts.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT);
      await setup.close();
      this.pubChannel = await this.openPublishChannel(conn);
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    this.conn = conn;
    conn.on('error', (err) => this.log.warn({ err: err.message }, 'connection error'));
    conn.on('close', () => this.onConnectionClosed(conn));
    for (const c of this.consumers) await this.startConsumer(c);
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

  /** Validates against the schema, publishes persistently and waits for the broker's confirm. */
  async publish<S extends z.ZodTypeAny>(route: Route, schema: S, message: z.input<S>): Promise<void> {
    const body = schema.parse(message) as unknown;
    await this.ensureConnected();
    if (!this.pubChannel && this.conn) this.pubChannel = await this.openPublishChannel(this.conn);
    const ch = this.pubChannel;
    if (!ch) throw new Error('no publish channel after connecting');
    const messageId = randomUUID();
    await new Promise<void>((resolve, reject) => {
      const ok = ch.publish(route.exchange, route.key, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        contentType: 'application/json',
        messageId,
        timestamp: Math.floor(Date.now() / 1000),
        appId: this.opts.name,
      }, (err) => (err ? reject(new Error(`RabbitMQ did not confirm the message to ${route.exchange}/${route.key}`)) : resolve()));
      // The callback above still fires when the buffer is full; this only avoids piling up more.
      if (!ok) this.log.debug('publish buffer full');
    });
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

  private async startConsumer(spec: ConsumerSpec): Promise<void> {
    if (!this.conn) return;
    const ch = await this.conn.createChannel();
    ch.on('error', (err) => this.log.error({ queue: spec.queue, err: err.message }, 'consumer channel error'));
    await ch.prefetch(spec.opts.prefetch);
    spec.channel = ch;
    let queue: string = spec.queue;
    if (spec.fanout) {
      queue = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
      await ch.bindQueue(queue, spec.fanout, '');
    }
    const { consumerTag } = await ch.consume(queue, (msg) => {
      if (!msg) return;
      const p = this.deliver(spec, ch, msg).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, { noAck: false });
    spec.tag = consumerTag;
    this.log.info({ queue: spec.fanout ? `${spec.fanout} (fanout)` : spec.queue, prefetch: spec.opts.prefetch }, 'consuming');
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
        safe(() => ch.nack(msg, false, false));
        return;
      }
      parsed = result.data;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'message is not JSON, dead-lettered');
      safe(() => ch.nack(msg, false, false));
      return;
    }
    try {
      await spec.handler(parsed, info);
      safe(() => ch.ack(msg));
    } catch (err) {
      const delay = (spec.opts.retryDelayMs ?? defaultRetryDelay)(attempt);
      log.error({ err: (err as Error).message, retryInMs: delay }, 'handler failed, the message goes back to the queue');
      await sleep(delay);
      // After the queue's delivery limit RabbitMQ dead-letters it rather than redelivering.
      safe(() => ch.nack(msg, false, true));
    }
  }

  /** Stops taking new messages; lets the handlers in flight finish (their acks still go out). */
  async stopConsuming(): Promise<void> {
    for (const c of this.consumers) {
      if (c.channel && c.tag) await c.channel.cancel(c.tag).catch(() => {});
      c.tag = undefined;
    }
    this.consumers.length = 0;
    await Promise.allSettled([...this.inFlight]);
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
