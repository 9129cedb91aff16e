// The frontend: the web UI and API, and the consumer of every job result. `start(config)` connects,
// listens and consumes; main.ts runs it as a process, a test can run it in its own.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { Broker, queues } from '@img/shared/broker';
import { deliveryStatusMessage, errorMessage, linkMessage, resultMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { connectDatabase, MongoJobStore } from '@img/shared/jobs';
import { defaultTemplatePath, listPlatforms, platformArchitecture, loadTemplate } from '@img/shared/kickstart';
import { createLogger, redactUrl, type Logger } from '@img/shared/logging';
import { createShutdown, retryWithBackoff, type RunningService } from '@img/shared/lifecycle';
import { LiveLogs } from '@img/shared/live-log';
import { createStorage } from '@img/shared/storage';
import type { Config } from './config.ts';
import { createApp } from './app.ts';
import { BuildRegistry, builderVersion, imageExists } from '@img/shared/builds';
import { resultHandlers } from './handlers/results.ts';
import { csrfProtection } from './http/csrf.ts';
import { bodySizeGuard, checkRateLimit, pendingJobsCap, submissionRateLimit } from './http/limits.ts';
import { kickstartChecker } from './kickstart-checker.ts';
import { PackageIndexCache, PackageIndexStore } from '@img/shared/packages';
import { jobAccess } from './http/job-access.ts';
import { OPERATOR_HOW_TO, operatorAuth } from './http/operator-auth.ts';
import { SseHub } from './http/sse-hub.ts';
import { submissionParser } from './http/upload.ts';
import { jobActions } from './jobs/job-actions.ts';
import { FairShare } from './jobs/fair-share.ts';
import { JobIndex } from './jobs/job-index.ts';
import { MongoJobSource } from './jobs/mongo-job-source.ts';
import { DeliveryStatuses } from './jobs/delivery-status.ts';
import { QueueEstimator } from './jobs/queue-estimate.ts';
import { BuildSlots } from './jobs/build-slots.ts';
import { TrackedJobStore } from './jobs/tracked-job-store.ts';
import { frontendMetrics } from './http/metrics.ts';
import { AddressPolicy } from '@img/shared/webhooks';
import { brokerMetrics, createRegistry, TimeSeries } from '@img/shared/metrics';
import { sampleQueue } from './jobs/queue-sampler.ts';
import { loadSigningKey } from './provenance/signing-key.ts';

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService & { port: number }> {
  const log = opts.log ?? createLogger('frontend', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');

  // First: a signing key that cannot be used stops the service before it connects to anything.
  const signing = await loadSigningKey({ keyPath: config.IMG_SIGNING_KEY, stateDir: config.IMG_STATE_DIR, publicUrl: config.IMG_PUBLIC_URL });
  log.info({ fingerprint: signing.fingerprint, source: signing.source }, 'signing key loaded');

  const templateText = await readFile(defaultTemplatePath, 'utf8');
  const loaded = loadTemplate(templateText, { file: 'configurations.yaml' });
  if (!loaded.template) throw new Error(`the default template is broken: ${loaded.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);

  const storage = createStorage(config);
  await retryWithBackoff(() => storage.init(), {
    onRetry: (attempt, retryInMs, err) => log.warn({ storage: config.IMG_STORAGE, attempt, retryInMs, err: err.message }, 'the store is unreachable, retrying'),
  });

  const db = await connectDatabase(config.IMG_MONGO_URL, {
    onRetry: (attempt, delayMs, err) => log.warn({ url: redactUrl(config.IMG_MONGO_URL), attempt, retryInMs: delayMs, err: err.message }, 'database unreachable, retrying'),
  });
  const mongoStore = new MongoJobStore(db);
  await mongoStore.init();
  const source = new MongoJobSource(db);
  const index = new JobIndex(source, { refreshMs: config.IMG_QUEUE_REFRESH_MS, log });
  await index.load();
  const store = new TrackedJobStore(mongoStore, index, source, log);
  const builds = new BuildRegistry(db, {
    retentionMs: config.IMG_IMAGE_RETENTION_DAYS * 86_400_000,
    // Not reused while image-creator could still be working on it; image-creator takes over stale claims.
    staleMs: Number.MAX_SAFE_INTEGER,
    imageExists: (image) => imageExists(storage, image),
  });
  await builds.init();
  // The package index image-creator reads and keeps in the database: read here, never written.
  const indexStore = new PackageIndexStore(db);
  const kickstarts = kickstartChecker({
    cache: new PackageIndexCache(indexStore, { recheckMs: config.IMG_PACKAGE_INDEX_RECHECK_S * 1000 }),
    store: indexStore, groups: loaded.template.groups, limits: { maxRootSizeMib: config.IMG_MAX_DISK_MB }, log,
  });
  const registry = createRegistry('frontend');
  const series = new TimeSeries(db, { log, service: 'frontend', flushMs: config.IMG_STATS_FLUSH_MS });
  await series.init();
  const metrics = frontendMetrics(registry, index, series);
  const stopSampling = sampleQueue(index, series, config.IMG_QUEUE_SAMPLE_MS);
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'frontend', metrics: brokerMetrics(registry) });

  const deliveries = new DeliveryStatuses(db);
  await deliveries.init();
  const results = resultHandlers({ store, log, broker, tokenSecret: config.IMG_TOKEN_SECRET, deliveries });
  await broker.consume(queues.link, linkMessage, results.link, { prefetch: 20 });
  await broker.consume(queues.error, errorMessage, results.error, { prefetch: 20 });
  await broker.consume(queues.result, resultMessage, results.result, { prefetch: 50 });
  await broker.consume(queues.deliveryStatus, deliveryStatusMessage, results.delivery, { prefetch: 50 });
  const logs = new LiveLogs(broker, storage, log);
  const slots = new BuildSlots(broker, { fallback: config.IMG_BUILD_SLOTS, everyMs: config.IMG_BUILD_SLOTS_REFRESH_MS, log });
  slots.start();
  const estimator = new QueueEstimator(index, () => slots.current());

  if (!config.IMG_CSRF_SECRET) log.info('IMG_CSRF_SECRET is not set: forms are signed with a key of this process only');
  const operator = operatorAuth({ user: config.IMG_OPERATOR_USER, password: config.IMG_OPERATOR_PASSWORD, token: config.IMG_OPERATOR_TOKEN });
  if (!operator.configured) log.warn(`no operator credentials are configured: the operator routes (clear, delete) refuse every request; ${OPERATOR_HOW_TO}`);
  const hub = new SseHub(config.IMG_MAX_EVENT_STREAMS, config.IMG_MAX_STREAMS_PER_CLIENT);
  const share = new FairShare(() => index.all(), config.IMG_MAX_PENDING_PER_SUBMITTER);
  const uploadLimit = config.IMG_MAX_UPLOAD_BYTES * 2 + 64 * 1024;
  const app = createApp({
    config, store, index, log, hub,
    estimator,
    storage, logs,
    actions: jobActions({ store, index, broker, log, estimator, storage, tokenSecret: config.IMG_TOKEN_SECRET, deliveries, share, submitted: metrics.submitted, reused: metrics.reused, reuse: { registry: builds, builderVersion: builderVersion(), publicUrl: config.IMG_PUBLIC_URL } }),
    notifications: deliveries,
    csrf: csrfProtection({ secret: config.IMG_CSRF_SECRET ?? randomBytes(32).toString('hex'), secureCookie: config.IMG_PUBLIC_URL.startsWith('https:') }),
    operator,
    requireOperator: operator.requireOperator,
    access: jobAccess({ secret: config.IMG_TOKEN_SECRET, operator }),
    submitGuards: [
      bodySizeGuard(uploadLimit),
      submissionRateLimit({ limit: config.IMG_SUBMIT_RATE_LIMIT, windowS: config.IMG_SUBMIT_RATE_WINDOW_S }),
      pendingJobsCap({ max: config.IMG_MAX_PENDING_JOBS, pending: () => index.pendingCount(), share }),
    ],
    checkGuards: [bodySizeGuard(uploadLimit), checkRateLimit({ limit: config.IMG_CHECK_RATE_LIMIT })],
    kickstarts,
    parseSubmission: submissionParser(config.IMG_MAX_UPLOAD_BYTES),
    platforms: listPlatforms(loaded.template).map((name) => ({ name, arch: platformArchitecture(loaded.template!, name) })),
    defaultTemplateText: templateText,
    metrics,
    callbacks: { hosts: config.IMG_WEBHOOK_HOSTS, policy: new AddressPolicy({ allowRanges: config.IMG_WEBHOOK_ALLOW_RANGES, dnsServers: config.IMG_WEBHOOK_DNS_SERVERS }) },
    db,
    signing,
  });
  // Express 5's app.listen calls back on a listen error too: a port held by another process would
  // pass for a server listening. The error is the caller's to hear, before anything says ready.
  const server: Server = await new Promise((resolve, reject) => {
    const s = createServer(app);
    const refused = (err: NodeJS.ErrnoException) => reject(new Error(`the frontend cannot listen on ${config.IMG_HTTP_HOST}:${config.IMG_HTTP_PORT} (IMG_HTTP_HOST, IMG_HTTP_PORT): ${err.code === 'EADDRINUSE' ? 'another process is listening there' : err.message}`));
    s.once('error', refused);
    s.listen(config.IMG_HTTP_PORT, config.IMG_HTTP_HOST, () => {
      // Listening: a later error of the server (too many open files, say) is logged, not fatal.
      s.off('error', refused);
      s.on('error', (err) => log.error({ err: err.message }, 'http server error'));
      resolve(s);
    });
  });
  // A slow client cannot hold a connection open for ever before sending its request.
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.IMG_HTTP_PORT;

  const stop = createShutdown(log, [
    {
      name: 'stop http',
      run: () => new Promise<void>((r) => {
        // Live streams never end by themselves: end them first, or close() would wait for ever.
        hub.closeAll();
        server.close(() => r());
        server.closeIdleConnections();
      }),
    },
    { name: 'stop live logs', run: () => logs.stop() },
    { name: 'stop counting build slots', run: () => slots.stop() },
    { name: 'close broker', run: () => broker.close() },
    { name: 'write the time series', run: async () => { stopSampling(); await series.stop(); } },
    { name: 'stop job list', run: async () => { index.stop(); await index.settle(); } },
    { name: 'close database', run: () => db.close() },
  ]);
  log.info({ port, url: config.IMG_PUBLIC_URL, jobs: index.all().length }, 'ready');
  return { port, stop: (reason = 'stop') => stop(reason) };
}
