// Support for tests that talk to the real infrastructure. A service that cannot be reached fails
// the test with a message saying how to start it; nothing is skipped.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { createLogger, type Logger } from '../logging/index.ts';
import { Broker, queues, declareTopology } from '../broker/index.ts';
import { connectDatabase } from '../jobs/index.ts';
import { S3Storage } from '../storage/index.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const HOW = 'start the infrastructure with `bash deploy/local/up.sh --infra-only` (as root)';

export const testEnv = {
  amqpUrl: process.env.IMG_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/img-test',
  mongoUrl: process.env.IMG_TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/img_test',
  mailApi: process.env.IMG_TEST_MAIL_API ?? 'http://127.0.0.1:8025',
  smtpPort: Number(process.env.IMG_TEST_SMTP_PORT ?? 1025),
  /** The S3-compatible server `up.sh` starts with IMG_STORAGE=s3 (SeaweedFS on loopback). */
  s3Endpoint: process.env.IMG_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:8333',
  /** Its credentials: IMG_TEST_S3_ACCESS_KEY and _SECRET_KEY, else those up.sh made and keeps in $IMG_STATE_DIR/s3-credentials. */
  get s3AccessKey(): string {
    return process.env.IMG_TEST_S3_ACCESS_KEY ?? s3Credential('IMG_S3_ACCESS_KEY');
  },
  get s3SecretKey(): string {
    return process.env.IMG_TEST_S3_SECRET_KEY ?? s3Credential('IMG_S3_SECRET_KEY');
  },
};

function s3Credential(name: string): string {
  const file = join(process.env.IMG_STATE_DIR ?? '/var/lib/img', 's3-credentials');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  return text.split('\n').filter((l) => l.startsWith(`${name}=`)).map((l) => l.slice(name.length + 1)).pop() ?? '';
}

const HOW_S3 = 'start the object store with `IMG_STORAGE=s3 bash deploy/local/up.sh --infra-only` (as root)';

/**
 * An S3 store on the test server, in a bucket of its own (made here, emptied and removed by
 * `drop`); fails, saying how to start the server, when the server cannot be reached.
 */
export async function testS3Storage(opts: { bucket?: string; multipartCopyAbove?: number } = {}): Promise<{ storage: S3Storage; env: Record<string, string>; drop: () => Promise<void> }> {
  const bucket = opts.bucket ?? `img-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const settings = {
    endpoint: testEnv.s3Endpoint, bucket, region: 'us-east-1', accessKeyId: testEnv.s3AccessKey, secretAccessKey: testEnv.s3SecretKey,
    forcePathStyle: true, publicEndpoint: testEnv.s3Endpoint, ...(opts.multipartCopyAbove ? { multipartCopyAbove: opts.multipartCopyAbove } : {}),
  };
  const storage = new S3Storage(settings);
  try {
    await storage.init();
  } catch (err) {
    throw new Error(`the S3-compatible object store is not reachable at ${testEnv.s3Endpoint}: ${(err as Error).message}; ${HOW_S3}`);
  }
  return {
    storage,
    env: {
      IMG_STORAGE: 's3', IMG_S3_ENDPOINT: testEnv.s3Endpoint, IMG_S3_BUCKET: bucket, IMG_S3_ACCESS_KEY: testEnv.s3AccessKey,
      IMG_S3_SECRET_KEY: testEnv.s3SecretKey, IMG_S3_FORCE_PATH_STYLE: 'true',
    },
    drop: async () => {
      for (const top of ['images/', 'logs/']) await storage.deletePrefix(top).catch(() => 0);
      await storage.dropBucket().catch(() => {});
      storage.destroy();
    },
  };
}

/** The job-token key every stack under test shares (the frontend checks tokens, the notifier makes them). */
export const testTokenSecret = 'img-test-token-secret-0123456789abcdefghijklmnop';

export function testLogger(name = 'test'): Logger {
  return createLogger(name, { level: process.env.IMG_TEST_LOG_LEVEL ?? 'silent' });
}

export async function connectTestBroker(name = 'test', opts: { deliveryLimit?: number } = {}): Promise<Broker> {
  try {
    return await Broker.connect({ url: testEnv.amqpUrl, logger: testLogger(name), name, maxConnectAttempts: 3, backoff: { initialMs: 200, maxMs: 1000 }, ...opts });
  } catch (err) {
    throw new Error(`RabbitMQ is not reachable at ${testEnv.amqpUrl}: ${(err as Error).message}; ${HOW}`);
  }
}

/** Empties every IMG queue in the test virtual host. */
export async function purgeAllQueues(): Promise<void> {
  const conn = await amqp.connect(testEnv.amqpUrl).catch((err: Error) => {
    throw new Error(`RabbitMQ is not reachable at ${testEnv.amqpUrl}: ${err.message}; ${HOW}`);
  });
  await declareTopology(conn);
  const ch = await conn.createChannel();
  for (const q of Object.values(queues)) await ch.purgeQueue(q);
  await conn.close();
}

export async function connectTestDatabase() {
  try {
    return await connectDatabase(testEnv.mongoUrl, { maxAttempts: 2 });
  } catch (err) {
    throw new Error(`the MongoDB-compatible database is not reachable at ${testEnv.mongoUrl}: ${(err as Error).message}; ${HOW}`);
  }
}

export async function tempDir(prefix = 'img-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * A stored image as a file a tool can read: a .zst (raw, loop and ISO images are kept compressed)
 * is decompressed beside itself once (the test's data directory goes at its end); others as they are.
 */
export function decompressedImage(file: string): string {
  if (!file.endsWith('.zst') || file.endsWith('.tar.zst')) return file;
  const out = file.slice(0, -4);
  if (!existsSync(out)) execFileSync('zstd', ['-q', '-d', file, '-o', out]);
  return out;
}

/** A unique address per test, so counting a test's mails is not disturbed by any other's. */
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export interface CaughtMail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

export async function mailsTo(address: string): Promise<CaughtMail[]> {
  let res: Response;
  try {
    res = await fetch(`${testEnv.mailApi}/api/messages?to=${encodeURIComponent(address)}`);
  } catch (err) {
    throw new Error(`the mail catcher is not reachable at ${testEnv.mailApi}: ${(err as Error).message}; ${HOW}`);
  }
  if (!res.ok) throw new Error(`mail catcher answered ${res.status}`);
  return (await res.json()) as CaughtMail[];
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, opts: { timeoutMs: number; intervalMs?: number }): Promise<T> {
  const end = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

const deadSeen = new Map<string, Array<Record<string, unknown>>>();
/**
 * Waits until a message about job `id` is in the dead-letter queue, and returns it. Every message
 * read from the queue is kept here, so one test's wait does not lose another's letter.
 */
export async function deadLettered(id: string, opts: { timeoutMs: number }): Promise<Record<string, unknown>> {
  const conn = await amqp.connect(testEnv.amqpUrl).catch((err: Error) => {
    throw new Error(`RabbitMQ is not reachable at ${testEnv.amqpUrl}: ${err.message}; ${HOW}`);
  });
  try {
    const ch = await conn.createChannel();
    return await waitFor(`a dead letter for job ${id}`, async () => {
      for (let m = await ch.get(queues.deadLetter, { noAck: true }); m; m = await ch.get(queues.deadLetter, { noAck: true })) {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(m.content.toString()) as Record<string, unknown>;
        } catch {
          continue;
        }
        const key = String(body.id);
        deadSeen.set(key, [...(deadSeen.get(key) ?? []), body]);
      }
      return deadSeen.get(id)?.[0];
    }, { timeoutMs: opts.timeoutMs, intervalMs: 250 });
  } finally {
    await conn.close();
  }
}

/** Waits until `queue` holds no message ready for delivery. */
export async function queueDrained(queue: string, opts: { timeoutMs: number }): Promise<void> {
  const conn = await amqp.connect(testEnv.amqpUrl).catch((err: Error) => {
    throw new Error(`RabbitMQ is not reachable at ${testEnv.amqpUrl}: ${err.message}; ${HOW}`);
  });
  try {
    const ch = await conn.createChannel();
    await waitFor(`${queue} to be empty`, async () => (await ch.checkQueue(queue)).messageCount === 0, { timeoutMs: opts.timeoutMs, intervalMs: 250 });
  } finally {
    await conn.close();
  }
}

export interface ServiceProcess {
  proc: ChildProcess;
  output: string[];
  /** Where its `ready` line says its metrics are (the frontend's are under its public URL). */
  metricsUrl?: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Services started by this test process; they must not outlive it, even when it is killed. */
const children = new Set<ChildProcess>();
let reaperInstalled = false;
function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  const reap = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', reap);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      reap();
      process.exit(1);
    });
  }
}

/** Starts a service's main.ts as a real process and waits for its `ready` log line. */
export async function startService(name: string, env: Record<string, string>, opts: { readyTimeoutMs?: number; prefix?: string[] } = {}): Promise<ServiceProcess> {
  // A prefix that execs its command (`ip netns exec NS`) leaves the service's own pid to signal.
  const argv = [process.execPath, '--import', 'tsx', join(repoRoot, 'services', name, 'src', 'main.ts')];
  const [cmd, ...args] = [...(opts.prefix ?? []), ...argv];
  const proc = spawn(cmd!, args, {
    cwd: repoRoot,
    env: { ...process.env, IMG_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installReaper();
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const output: string[] = [];
  let ready = false;
  // Output arrives in chunks that may end inside a line: only whole lines are kept.
  const partial = new Map<NodeJS.ReadableStream, string>();
  const onData = (stream: NodeJS.ReadableStream) => (buf: Buffer) => {
    const lines = ((partial.get(stream) ?? '') + buf.toString('utf8')).split('\n');
    partial.set(stream, lines.pop() ?? '');
    for (const line of lines) {
      if (!line) continue;
      output.push(line);
      if (process.env.IMG_TEST_SERVICE_LOGS) process.stderr.write(`[${name}] ${line}\n`);
      if (/"msg":"ready"/.test(line)) ready = true;
    }
  };
  proc.stdout!.on('data', onData(proc.stdout!));
  proc.stderr!.on('data', onData(proc.stderr!));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const end = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  while (!ready) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode} before it was ready:\n${output.slice(-20).join('\n')}`);
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${opts.readyTimeoutMs ?? 30_000} ms:\n${output.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const readyLine = output.find((l) => /"msg":"ready"/.test(l));
  const metricsUrl = readyLine ? (JSON.parse(readyLine) as { metrics?: string }).metrics : undefined;
  return {
    proc,
    output,
    ...(metricsUrl ? { metricsUrl } : {}),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A port nothing listens on right now, for a service under test, taken at random from below the
 * kernel's ephemeral range. A port the kernel handed out (listen(0)) would be free again once
 * closed, and the next process asking for any port (a service's /metrics on port 0, an outgoing
 * connection) could be given it before the service meant to have it binds.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const { readFile } = await import('node:fs/promises');
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const ephemeralLow = Number(range.trim().split(/\s+/)[0]) || 32768;
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow) - 1;
  const tryPort = (port: number) => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await tryPort(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} after 200 tries`);
}

/** Environment for a whole stack of services under test: its own data dir and port, the test vhost and database. */
export async function stackEnv(extra: Record<string, string> = {}): Promise<Record<string, string> & { IMG_PUBLIC_URL: string; IMG_DATA_DIR: string }> {
  const port = await freePort();
  const dataDir = await tempDir('img-data-');
  return {
    IMG_AMQP_URL: testEnv.amqpUrl,
    IMG_MONGO_URL: testEnv.mongoUrl,
    IMG_DATA_DIR: dataDir,
    // The frontend's generated signing key: the test's own, gone with its data directory.
    IMG_STATE_DIR: join(dataDir, 'state'),
    IMG_HTTP_HOST: '127.0.0.1',
    IMG_HTTP_PORT: String(port),
    IMG_PUBLIC_URL: `http://127.0.0.1:${port}`,
    IMG_SMTP_HOST: '127.0.0.1',
    IMG_SMTP_PORT: String(testEnv.smtpPort),
    IMG_TOKEN_SECRET: testTokenSecret,
    // Tests submit many jobs from one address: the per-client caps are tested where they are set lower.
    IMG_SUBMIT_RATE_LIMIT: '1000',
    IMG_MAX_PENDING_PER_SUBMITTER: '1000',
    // Several copies of a service run at once in tests: each takes a free port for /metrics.
    IMG_METRICS_PORT: '0',
    // Preparing a base takes a cold build's time: only the tests of the warm start ask for it.
    IMG_PREPARED_BASES: 'none',
    ...extra,
  };
}
