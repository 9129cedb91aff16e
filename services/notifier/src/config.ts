import { z } from 'zod';
import { commonEnv, env, metricsEnv, parseConfig, webhookEnv } from '@img/shared/config';
import { tokenSecretSetting } from '@img/shared/jobs';

const schema = z.object({
  ...metricsEnv(9103),
  ...webhookEnv,
  /** A webhook receiver's whole answer must come within this. */
  IMG_WEBHOOK_TIMEOUT_MS: env.int(10_000, 100),
  /** How long a webhook is tried again, with a doubling wait up to the max delay, before it is given up. */
  IMG_WEBHOOK_RETRY_WINDOW_S: env.int(3600, 1),
  IMG_WEBHOOK_RETRY_MAX_DELAY_S: env.int(300, 1),
  ...commonEnv,
  /** The frontend's job-token key: the emails' links carry the job's token. */
  IMG_TOKEN_SECRET: tokenSecretSetting,
  IMG_SMTP_HOST: env.str('127.0.0.1'),
  IMG_SMTP_PORT: env.int(1025, 1),
  /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
  IMG_SMTP_SECURE: env.bool(false),
  IMG_SMTP_REQUIRE_TLS: env.bool(false),
  IMG_SMTP_USER: env.optionalStr(),
  IMG_SMTP_PASS: env.optionalStr(),
  IMG_SMTP_TIMEOUT_MS: env.int(20_000, 1000),
  IMG_MAIL_FROM: env.str('IMG <img@localhost>'),
  IMG_MAIL_REPLY_TO: env.optionalStr(),
  /** How long a mail is retried while the relay is down or slow, before it is recorded as not delivered. */
  IMG_MAIL_RETRY_WINDOW_S: env.int(1800, 1),
  /** Longest wait between two tries (the wait doubles from 2 s up to this). */
  IMG_MAIL_RETRY_MAX_DELAY_S: env.int(60, 1),
  /** Mails in progress at once (each may be waiting for a retry); the others stay queued. */
  IMG_MAIL_CONCURRENCY: env.int(20, 1),
});

export type Config = z.infer<typeof schema>;
export const loadConfig = (e: NodeJS.ProcessEnv): Config => parseConfig(schema, e);
