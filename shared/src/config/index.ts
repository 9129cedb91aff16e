// Config helpers: each service parses its environment once with zod in its config.ts and fails
// fast with a message naming every bad variable.
import { z } from 'zod';
import { redactUrl } from '../logging/index.ts';
import { DEFAULT_SUITE, findSuite, unknownSuiteMessage } from '../kickstart/suites.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseConfig<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const r = schema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** Environment helpers for the schemas: strings in, typed values out. */
export const env = {
  str: (def: string) => z.string().default(def),
  optionalStr: () => z.string().optional().transform((v) => (v === '' ? undefined : v)),
  int: (def: number, min = 0) => z.coerce.number().int().min(min).default(def),
  bool: (def: boolean) => z.enum(['true', 'false', '1', '0', 'yes', 'no']).default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  url: (def: string) => z.string().url().default(def),
  /** IMG_DEFAULT_SUITE: one of the suites IMG builds; empty or unset, the current stable release. */
  /**
   * IMG_AMQP_URL: one RabbitMQ node, or the nodes of one cluster separated by commas, each an
   * amqp:// or amqps:// URL. A service connects to the first that answers and moves to the next when
   * its node goes away (see shared/src/broker).
   */
  amqpUrls: (def: string) => z.string().default(def).transform((value, ctx) => {
    const urls = value.split(',').map((u) => u.trim()).filter(Boolean);
    if (urls.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'no RabbitMQ address: give one amqp:// URL, or several separated by commas' });
    urls.forEach((u, i) => {
      let protocol: string | undefined;
      try {
        protocol = new URL(u).protocol;
      } catch {
        /* reported below */
      }
      if (protocol !== 'amqp:' && protocol !== 'amqps:') {
        const which = urls.length > 1 ? `address ${i + 1} of ${urls.length} ` : '';
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${which}(${protocol ? redactUrl(u) : 'not a URL'}) is not an amqp:// or amqps:// URL` });
      }
    });
    return urls;
  }),
  suite: () => z.string().optional().transform((v) => v?.trim() || DEFAULT_SUITE)
    .refine((v) => findSuite(v) !== undefined, (v) => ({ message: unknownSuiteMessage(v) })),
};

/** Settings shared by every service, read under the same names everywhere. */
export const commonEnv = {
  IMG_AMQP_URL: env.amqpUrls('amqp://guest:guest@127.0.0.1:5672'),
  IMG_MONGO_URL: env.url('mongodb://127.0.0.1:27017/img'),
  IMG_DATA_DIR: env.str('/var/lib/img/data'),
  IMG_PUBLIC_URL: env.url('http://localhost:8080'),
  IMG_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Days a finished image is kept: image-creator deletes it after, identical requests reuse it until then. */
  IMG_IMAGE_RETENTION_DAYS: env.int(7, 1),
  /** How often a service writes what it counted into the dashboard's time series in the database. */
  IMG_STATS_FLUSH_MS: env.int(5000, 100),
};

/**
 * Where a service without an HTTP server of its own serves `/metrics`: loopback by default, so
 * only this host (its Prometheus, or an SSH tunnel) reads it. Port 0 takes any free port.
 */
export const metricsEnv = (defaultPort: number) => ({
  IMG_METRICS_HOST: env.str('127.0.0.1'),
  IMG_METRICS_PORT: env.int(defaultPort, 0),
});

const list = z.string().default('').transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/**
 * Where webhooks may go, read by the frontend (at submission) and the notifier (at each send).
 * IMG_WEBHOOK_HOSTS: allowed hosts (`name`, `*.domain`, or `*`); empty: webhooks are off.
 * IMG_WEBHOOK_ALLOW_RANGES: CIDRs of loopback, link-local or private ranges that are allowed anyway.
 * IMG_WEBHOOK_DNS_SERVERS: resolve callback hosts with these servers; empty: the system's resolver.
 */
export const webhookEnv = {
  IMG_WEBHOOK_HOSTS: list,
  IMG_WEBHOOK_ALLOW_RANGES: list,
  IMG_WEBHOOK_DNS_SERVERS: list,
};

/** A copy of a config object fit for the log: URL passwords blanked, secret-named keys censored. */
export function configForLog(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (/PASS|SECRET|TOKEN|KEY/i.test(k)) out[k] = v === undefined || v === '' ? v : '[secret]';
    else if (isUrl(v)) out[k] = redactUrl(v);
    else if (Array.isArray(v) && v.some(isUrl)) out[k] = v.map((x) => (isUrl(x) ? redactUrl(x) : x));
    else out[k] = v;
  }
  return out;
}

function isUrl(v: unknown): v is string {
  return typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v);
}

/**
 * For a service's main.ts: parses its configuration, or prints what is wrong to stderr and exits 1
 * (a bad setting will not fix itself, so retrying would only hide it).
 */
export function loadServiceConfig<T>(service: string, load: (e: NodeJS.ProcessEnv) => T, e: NodeJS.ProcessEnv = process.env): T {
  try {
    return load(e);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
