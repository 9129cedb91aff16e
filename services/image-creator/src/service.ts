// image-creator: `start(config)` connects to Docker, the database and RabbitMQ, and consumes
// image_queue; main.ts runs it as a process, a test can run it in its own.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { Broker, exchanges, queues, DEFAULT_DELIVERY_LIMIT } from '@img/shared/broker';
import { cancelMessage, imageMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { createLogger, redactUrl, type Logger } from '@img/shared/logging';
import { createShutdown, retryWithBackoff, type RunningService } from '@img/shared/lifecycle';
import type { Config } from './config.ts';
import { DockerRunner } from './docker-runner.ts';
import { BuildCache } from './build-cache.ts';
import { DataLayout } from '@img/shared/layout';
import { buildHandler } from './handlers/build-image.ts';
import { Cancellations } from './cancellations.ts';
import { BuildRegistry, builderVersion, imageExists } from '@img/shared/builds';
import { connectDatabase, DocLock } from '@img/shared/jobs';
import { createStorage } from '@img/shared/storage';
import { loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { PackageIndexCache, PackageIndexStore, preloadUnits } from '@img/shared/packages';
import { readPackageIndex } from './package-index/read-index.ts';
import { IndexRefresher } from './package-index/index-refresher.ts';
import { sweepExpiredImages } from '@img/shared/retention';
import { brokerMetrics, createRegistry, serveMetrics, TimeSeries } from '@img/shared/metrics';
import { buildMetrics } from './metrics.ts';
import { emulationStates } from './emulation.ts';
import { BasePreparer, parseBaseTargets } from './build/prepare-base.ts';
import { findArchitecture, findSuite } from '@img/shared/kickstart';

/** How often a builder renews the claim of the request it builds. */
const BUILD_HEARTBEAT_MS = 15_000;

/** Waits for the Docker engine and for the builder image on it. */
async function waitForDocker(runner: DockerRunner, builderImage: string, config: Config, log: Logger): Promise<void> {
  let reached = false;
  await retryWithBackoff(async () => {
    reached = false;
    await runner.ping();
    reached = true;
    if (!(await runner.imageExists(builderImage))) throw new Error(`the builder image ${builderImage} is missing: build it with deploy/builder/build-image.sh (deploy/local/up.sh does)`);
  }, {
    // A missing image needs someone to build it: the log says so every 10 s or so, not every 3.
    backoff: { initialMs: 500, maxMs: 10_000 },
    onRetry: (attempt, retryInMs, err) => {
      if (reached) log.error({ builderImage, attempt, retryInMs }, err.message);
      else log.warn({ socket: config.IMG_DOCKER_SOCKET, attempt, retryInMs, err: err.message }, 'Docker engine unreachable, retrying');
    },
  });
}

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService & { metricsPort: number }> {
  const log = opts.log ?? createLogger('image-creator', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');
  const builderImage = config.IMG_BUILDER_IMAGE ?? execFileSync('bash', [fileURLToPath(new URL('../../../deploy/builder/build-image.sh', import.meta.url)), '--print-tag'], { encoding: 'utf8' }).trim();
  const defaults = loadDefaultTemplate();
  if (!defaults.template) throw new Error(`the default template is broken: ${defaults.errors.map((e) => e.message).join('; ')}`);
  const runner = new DockerRunner(new Docker({ socketPath: config.IMG_DOCKER_SOCKET }), log, config.IMG_DATA_DIR);
  await waitForDocker(runner, builderImage, config, log);

  // This process tracks no build yet: any container labelled by an earlier run is an orphan.
  await runner.removeOrphans();
  // A build's root must not be the host's root: the engine remaps it to an unprivileged uid.
  const sandboxRoot = await runner.remappedRoot();
  if (!sandboxRoot && config.IMG_REQUIRE_USERNS) {
    throw new Error('the Docker engine does not remap user namespaces, so a build\'s root would be the host\'s root: start dockerd with --userns-remap=default (deploy/local/up.sh does), or set IMG_REQUIRE_USERNS=false to accept that');
  }
  log.info(sandboxRoot ? { sandboxRoot } : {}, sandboxRoot ? 'builds run as an unprivileged user on the host (userns-remap)' : 'WARNING: builds run as the host\'s root (IMG_REQUIRE_USERNS=false)');
  // Said now, and again by each build for an architecture this host cannot run.
  for (const e of await emulationStates(config.IMG_BINFMT_DIR)) {
    if (e.ok) log.info({ arch: e.arch }, `${e.arch} builds run under user-mode emulation (binfmt_misc)`);
    else log.warn({ arch: e.arch }, e.problem ?? 'emulation unavailable');
  }

  const storage = createStorage(config);
  await retryWithBackoff(() => storage.init(), {
    onRetry: (attempt, retryInMs, err) => log.warn({ storage: config.IMG_STORAGE, attempt, retryInMs, err: err.message }, 'the store is unreachable, retrying'),
  });

  const db = await connectDatabase(config.IMG_MONGO_URL, {
    onRetry: (attempt, delayMs, err) => log.warn({ url: redactUrl(config.IMG_MONGO_URL), attempt, retryInMs: delayMs, err: err.message }, 'database unreachable, retrying'),
  });
  const builds = new BuildRegistry(db, {
    retentionMs: config.IMG_IMAGE_RETENTION_DAYS * 86_400_000,
    // A claim whose builder has not renewed it for four heartbeats belongs to a builder that died.
    staleMs: BUILD_HEARTBEAT_MS * 4,
    imageExists: (image) => imageExists(storage, image),
  });
  await builds.init();
  const cache = new BuildCache({
    dir: config.IMG_BUILD_CACHE_DIR ?? new DataLayout(config.IMG_DATA_DIR).root('cache'),
    packages: config.IMG_PACKAGE_CACHE,
    rootfsHours: config.IMG_ROOTFS_CACHE_HOURS,
    rootfsMinAdded: config.IMG_ROOTFS_MIN_ADDED,
    maxBytes: config.IMG_CACHE_MAX_MB * 1024 * 1024,
  });
  await cache.init();
  const baseTargets = config.IMG_ROOTFS_CACHE_HOURS > 0
    ? parseBaseTargets(config.IMG_PREPARED_BASES, config.IMG_DEFAULT_SUITE, { suite: (s) => Boolean(findSuite(s)), arch: (a) => Boolean(findArchitecture(a)) })
    : [];
  if (typeof baseTargets === 'string') throw new Error(`IMG_PREPARED_BASES: ${baseTargets}`);
  let preparer: BasePreparer | undefined;
  // The package index: read here (Docker and the builder image are here), kept in the database.
  const indexStore = new PackageIndexStore(db);
  await indexStore.init();
  const preloadSpec = config.IMG_PACKAGE_INDEX_PRELOAD.trim() || `${config.IMG_DEFAULT_SUITE}:amd64`;
  const preload = preloadUnits(preloadSpec, (suite, arch) => ({ ...parseKickstart('', { defaultSuite: suite, arch }).draft }));
  if (typeof preload === 'string') throw new Error(`IMG_PACKAGE_INDEX_PRELOAD: ${preload}`);
  const lockLeaseMs = config.IMG_PACKAGE_INDEX_TIMEOUT_S * 1000 + 60_000;
  const refresher = new IndexRefresher({
    store: indexStore,
    tryLock: new DocLock(db, 'package_index_locks', { leaseMs: lockLeaseMs, waitMs: 1000 }),
    waitLock: new DocLock(db, 'package_index_locks', { leaseMs: lockLeaseMs, waitMs: lockLeaseMs }),
    read: (units) => readPackageIndex({
      runner, builderImage, log, timeoutMs: config.IMG_PACKAGE_INDEX_TIMEOUT_S * 1000,
      mirrors: { default: config.IMG_DEBIAN_MIRROR, security: config.IMG_DEBIAN_SECURITY_MIRROR, checkValidUntil: config.IMG_APT_CHECK_VALID_UNTIL },
    }, units),
    log,
    maxAgeMs: config.IMG_PACKAGE_INDEX_REFRESH_H * 3_600_000,
    pollMs: config.IMG_PACKAGE_INDEX_POLL_S * 1000,
    preload,
    onRead: (units) => preparer?.listsRead(units),
  });
  await refresher.start();
  const indexCache = new PackageIndexCache(indexStore, { recheckMs: 30_000 });
  const registry = createRegistry('image-creator');
  const series = new TimeSeries(db, { log, service: 'image-creator', flushMs: config.IMG_STATS_FLUSH_MS });
  await series.init();
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'image-creator', metrics: brokerMetrics(registry) });
  const cancellations = new Cancellations();
  await broker.subscribe(exchanges.control, cancelMessage, async (m) => {
    const stopped = cancellations.cancel(m.id);
    log.info({ jobId: m.id, stopped }, stopped ? 'cancel: stopping the build' : 'cancel: remembered');
  });
  const build = buildHandler({
    config, builderImage, runner, broker, storage, tokenSecret: config.IMG_TOKEN_SECRET, log, maxAttempts: DEFAULT_DELIVERY_LIMIT + 1, groups: defaults.template.groups, cancellations, builds, heartbeatMs: BUILD_HEARTBEAT_MS, sandboxRoot, builderVersion: builderVersion(), cache, metrics: buildMetrics(registry, series),
    packages: { cache: indexCache, ensure: (units) => refresher.ensure(units) },
  });
  // One consumer per build slot, each taking one build at a time: RabbitMQ's consumer count of
  // image_queue is then the number of builds that can run at once, which the frontend's estimates use.
  for (let slot = 0; slot < config.IMG_BUILD_CONCURRENCY; slot++) await broker.consume(queues.image, imageMessage, build, { prefetch: 1 });

  // After the consumer: preparing a base never holds up a build (a build finding none starts from scratch).
  const layout = new DataLayout(config.IMG_DATA_DIR);
  preparer = new BasePreparer({
    config, runner, builderImage, builderVersion: builderVersion(), cancellations, cache, log, sandboxRoot, targets: baseTargets, workDir: layout.root('work'),
  });
  preparer.start();

  // Images are kept for the retention the success email announces.
  const sweep = () => void sweepExpiredImages({ storage, days: config.IMG_IMAGE_RETENTION_DAYS, log })
    .catch((err: Error) => log.warn({ err: err.message }, 'retention sweep failed'));
  sweep();
  const sweeper = setInterval(sweep, 3_600_000);
  sweeper.unref();

  const metricsServer = await serveMetrics(registry, { host: config.IMG_METRICS_HOST, port: config.IMG_METRICS_PORT, log });
  const stop = createShutdown(log, [
    { name: 'stop metrics', run: () => metricsServer.close() },
    // Builds in flight go back to the queue rather than being failed: another instance (or this one
    // after a restart) builds them again.
    { name: 'hand back builds', run: () => broker.close({ handBack: true }) },
    { name: 'stop reading package indexes', run: () => refresher.stop() },
    { name: 'stop preparing bases', run: async () => preparer?.stop() },
    { name: 'remove build containers', run: async () => { await runner.removeOrphans(); } },
    { name: 'write the time series', run: () => series.stop() },
    { name: 'close database', run: () => db.close() },
    { name: 'stop the retention sweep', run: async () => clearInterval(sweeper) },
  ]);
  log.info({ builderImage, concurrency: config.IMG_BUILD_CONCURRENCY, metrics: `http://${config.IMG_METRICS_HOST}:${metricsServer.port}/metrics` }, 'ready');
  return { metricsPort: metricsServer.port, stop: (reason = 'stop') => stop(reason) };
}
