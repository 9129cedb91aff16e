// The notifier: notify_queue → one email per job outcome. `start(config)` connects and consumes;
// main.ts runs it as a process, a test can run it in its own.
import { Broker, queues } from '@img/shared/broker';
import { notifyMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { connectDatabase } from '@img/shared/jobs';
import { createLogger, redactUrl, type Logger } from '@img/shared/logging';
import { createShutdown, retryWithBackoff, type RunningService } from '@img/shared/lifecycle';
import { brokerMetrics, Counter, createRegistry, serveMetrics, TimeSeries } from '@img/shared/metrics';
import type { Config } from './config.ts';
import { smtpMailer } from './mailer.ts';
import { NotificationStore } from './notification-store.ts';
import { notifyHandler } from './handlers/notify.ts';
import { webhookHandler } from './handlers/webhook.ts';
import { WebhookStore } from './webhook-store.ts';
import { AddressPolicy } from '@img/shared/webhooks';

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService & { metricsPort: number }> {
  const log = opts.log ?? createLogger('notifier', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');

  const db = await retryWithBackoff(() => connectDatabase(config.IMG_MONGO_URL, { maxAttempts: 1 }), {
    onRetry: (attempt, delayMs, err) => log.warn({ url: redactUrl(config.IMG_MONGO_URL), attempt, retryInMs: delayMs, err: ((err.cause as Error | undefined) ?? err).message }, 'database unreachable, retrying'),
  });
  // The lease outlives the slowest send nodemailer allows (connect + greeting + socket timeouts).
  const notifications = new NotificationStore(db, config.IMG_SMTP_TIMEOUT_MS * 3 + 10_000);
  await notifications.init();
  const mailer = smtpMailer(config);
  const registry = createRegistry('notifier');
  const emails = new Counter({ name: 'img_emails_total', help: 'Emails by job outcome and what became of them: sent, rejected by the relay, failed (tried again), undeliverable (given up)', labelNames: ['outcome', 'state'], registers: [registry] });
  // The dashboard's history of email delivery.
  const series = new TimeSeries(db, { log, service: 'notifier', flushMs: config.IMG_STATS_FLUSH_MS });
  await series.init();
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'notifier', metrics: brokerMetrics(registry) });
  await broker.consume(queues.notify, notifyMessage, notifyHandler({
    notifications, broker, mailer, log, publicUrl: config.IMG_PUBLIC_URL, tokenSecret: config.IMG_TOKEN_SECRET,
    retentionDays: config.IMG_IMAGE_RETENTION_DAYS,
    counted: (outcome, state) => {
      emails.inc({ outcome, state });
      series.count('emails', state);
    },
    retry: { windowMs: config.IMG_MAIL_RETRY_WINDOW_S * 1000, maxDelayMs: config.IMG_MAIL_RETRY_MAX_DELAY_S * 1000 },
  }), { prefetch: config.IMG_MAIL_CONCURRENCY });

  // The lease outlives the slowest post (the receiver's timeout, twice over for a redirect).
  const deliveries = new WebhookStore(db, config.IMG_WEBHOOK_TIMEOUT_MS * 4 + 10_000);
  await deliveries.init();
  const webhooks = new Counter({ name: 'img_webhooks_total', help: 'Webhook posts by job outcome and what became of them: delivered, failed (tried again), refused (address not allowed), undeliverable (given up)', labelNames: ['outcome', 'state'], registers: [registry] });
  await broker.consume(queues.webhook, notifyMessage, webhookHandler({
    deliveries, broker, log, publicUrl: config.IMG_PUBLIC_URL, tokenSecret: config.IMG_TOKEN_SECRET,
    hosts: config.IMG_WEBHOOK_HOSTS, policy: new AddressPolicy({ allowRanges: config.IMG_WEBHOOK_ALLOW_RANGES, dnsServers: config.IMG_WEBHOOK_DNS_SERVERS }),
    timeoutMs: config.IMG_WEBHOOK_TIMEOUT_MS,
    retry: { windowMs: config.IMG_WEBHOOK_RETRY_WINDOW_S * 1000, maxDelayMs: config.IMG_WEBHOOK_RETRY_MAX_DELAY_S * 1000 },
    counted: (outcome, state) => webhooks.inc({ outcome, state }),
  }), { prefetch: config.IMG_MAIL_CONCURRENCY });

  const metricsServer = await serveMetrics(registry, { host: config.IMG_METRICS_HOST, port: config.IMG_METRICS_PORT, log });
  const stop = createShutdown(log, [
    { name: 'stop metrics', run: () => metricsServer.close() },
    { name: 'close broker', run: () => broker.close() },
    { name: 'close mailer', run: async () => mailer.close() },
    { name: 'write the time series', run: () => series.stop() },
    { name: 'close database', run: () => db.close() },
  ]);
  log.info({ metrics: `http://${config.IMG_METRICS_HOST}:${metricsServer.port}/metrics` }, 'ready');
  return { metricsPort: metricsServer.port, stop: (reason = 'stop') => stop(reason) };
}
