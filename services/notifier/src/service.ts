// The notifier: notify_queue → one email per job outcome. `start(config)` connects and consumes;
// main.ts runs it as a process, a test can run it in its own.
import { z } from 'zod';
import { Broker, queues } from '@img/shared/broker';
import { cancelledMessage, errorMessage, linkMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { connectDatabase, MongoJobStore } from '@img/shared/jobs';
import { createLogger, redactUrl, type Logger } from '@img/shared/logging';
import { createShutdown, retryWithBackoff, type RunningService } from '@img/shared/lifecycle';
import type { Config } from './config.ts';
import { smtpMailer } from './mailer.ts';
import { NotificationStore } from './notification-store.ts';
import { notifyHandler } from './handlers/notify.ts';

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService> {
  const log = opts.log ?? createLogger('notifier', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');

  const db = await retryWithBackoff(() => connectDatabase(config.IMG_MONGO_URL, { maxAttempts: 1 }), {
    onRetry: (attempt, delayMs, err) => log.warn({ url: redactUrl(config.IMG_MONGO_URL), attempt, retryInMs: delayMs, err: ((err.cause as Error | undefined) ?? err).message }, 'database unreachable, retrying'),
  });
  // The lease outlives the slowest send nodemailer allows (connect + greeting + socket timeouts).
  const notifications = new NotificationStore(db, config.IMG_SMTP_TIMEOUT_MS * 3 + 10_000);
  await notifications.init();
  const mailer = smtpMailer(config);
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'notifier' });
  await broker.consume(queues.notify, z.union([linkMessage, errorMessage, cancelledMessage]), notifyHandler({
    notifications, jobs: new MongoJobStore(db), mailer, log, publicUrl: config.IMG_PUBLIC_URL, tokenSecret: config.IMG_TOKEN_SECRET,
    retentionDays: config.IMG_IMAGE_RETENTION_DAYS,
    retry: { windowMs: config.IMG_MAIL_RETRY_WINDOW_S * 1000, maxDelayMs: config.IMG_MAIL_RETRY_MAX_DELAY_S * 1000 },
  }), { prefetch: config.IMG_MAIL_CONCURRENCY });

  const stop = createShutdown(log, [
    { name: 'close broker', run: () => broker.close() },
    { name: 'close mailer', run: async () => mailer.close() },
    { name: 'close database', run: () => db.close() },
  ]);
  log.info('ready');
  return { stop: (reason = 'stop') => stop(reason) };
}
