import { z } from 'zod';
import { commonEnv, env, parseConfig, webhookEnv } from '@img/shared/config';
import { tokenSecretSetting } from '@img/shared/jobs';
import { checkStorageConfig, storageEnv } from '@img/shared/storage';

const trustProxy = z.string().default('false').transform((v, ctx): boolean | number => {
  if (/^(true|yes|1)$/i.test(v)) return true;
  if (/^(false|no|0|)$/i.test(v)) return false;
  const n = Number(v);
  if (Number.isInteger(n) && n > 0) return n;
  ctx.addIssue({ code: 'custom', message: 'true, false, or the number of proxies in front of the frontend' });
  return z.NEVER;
});

const schema = z.object({
  ...commonEnv,
  ...webhookEnv,
  ...storageEnv,
  IMG_HTTP_HOST: env.str('0.0.0.0'),
  IMG_HTTP_PORT: env.int(8080, 0),
  /** Largest `part --size` (and template PartSize) accepted, in MiB; the kickstarter and image-creator hold to the same. */
  IMG_MAX_DISK_MB: env.int(65536, 1),
  /** The suite of a request whose kickstart names none and that asks for none (the form preselects it). */
  IMG_DEFAULT_SUITE: env.suite(),
  /** Largest kickstart or template accepted, in bytes. */
  IMG_MAX_UPLOAD_BYTES: env.int(1024 * 1024, 1024),
  /** Submissions one client may make per window; a retry counts as one. */
  IMG_SUBMIT_RATE_LIMIT: env.int(30, 1),
  IMG_SUBMIT_RATE_WINDOW_S: env.int(600, 1),
  /** Jobs waiting or building at once; past it submissions get a 503 until the queue drains. */
  IMG_MAX_PENDING_JOBS: env.int(200, 1),
  /** Jobs one submitter may have waiting or building, counted by email address and by client address alike. */
  IMG_MAX_PENDING_PER_SUBMITTER: env.int(10, 1),
  /** Signs the job tokens (HMAC key); the notifier needs the same value for its email links. */
  IMG_TOKEN_SECRET: tokenSecretSetting,
  /** The operator's routes (clear, delete, the queue by email) need these basic-auth credentials or the token; with none set they refuse. */
  IMG_OPERATOR_USER: env.optionalStr(),
  IMG_OPERATOR_PASSWORD: env.optionalStr(),
  IMG_OPERATOR_TOKEN: env.optionalStr(),
  /** Signs the CSRF tokens; random per process when unset, so several copies need it set alike. */
  IMG_CSRF_SECRET: env.optionalStr(),
  /** Whether client addresses come from X-Forwarded-For (the rate limit is per client address). */
  IMG_TRUST_PROXY: trustProxy,
  /** Builds that run at once, for the estimates, while RabbitMQ has not said (or no image-creator is connected). */
  IMG_BUILD_SLOTS: env.int(1, 1),
  /** How often the build slots are counted: the consumers of image_queue (jobs/build-slots.ts). */
  IMG_BUILD_SLOTS_REFRESH_MS: env.int(15_000, 100),
  /** How often the in-memory job list looks for changes made by other frontend copies. */
  IMG_QUEUE_REFRESH_MS: env.int(1000, 100),
  /** How often the queue's depth is sampled for the operator's dashboard. */
  IMG_QUEUE_SAMPLE_MS: env.int(60_000, 100),
  /** Live-update connections (server-sent events) held open at once. */
  IMG_MAX_EVENT_STREAMS: env.int(200, 1),
  /** Of those, how many one client address may hold. */
  IMG_MAX_STREAMS_PER_CLIENT: env.int(10, 1),
  /** How often the package index kept in memory looks for a newer reading in the database (image-creator reads them). */
  IMG_PACKAGE_INDEX_RECHECK_S: env.int(30, 1),
  /** Checks of a kickstart (POST /api/v1/kickstart/check) one client address may ask for per minute. */
  IMG_CHECK_RATE_LIMIT: env.int(120, 1),
  /** The OpenPGP secret key (an ASCII-armored file, no passphrase) that signs each job's SHA256SUMS; unset: one made at first start in IMG_STATE_DIR. */
  IMG_SIGNING_KEY: env.optionalStr(),
  /** Where the frontend keeps what it makes once and must keep: the generated signing key. */
  IMG_STATE_DIR: env.str('/var/lib/img'),
}).superRefine((c, ctx) => {
  checkStorageConfig(c, ctx);
  if (Boolean(c.IMG_OPERATOR_USER) !== Boolean(c.IMG_OPERATOR_PASSWORD)) {
    ctx.addIssue({ code: 'custom', path: ['IMG_OPERATOR_PASSWORD'], message: 'IMG_OPERATOR_USER and IMG_OPERATOR_PASSWORD go together' });
  }
});

export type Config = z.infer<typeof schema>;
export const loadConfig = (e: NodeJS.ProcessEnv): Config => parseConfig(schema, e);
