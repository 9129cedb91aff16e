// image_queue → a build in the sandbox → link_queue or error_queue, with progress on result_queue.
// This handler owns the delivery: it answers a redelivery from what an earlier one left, shares one
// build among identical requests, and reports the outcome. The build's steps live in ../build/:
// plan (the kickstart read and checked), sandbox (the build, its output taken as data), boot check.
// Each returns data or throws a BuildFailure, which this handler reports.
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  CONTRACT_VERSION, errorMessage, linkMessage, resultMessage, type BuildStart, type Delivery, type ErrorMessage, type ImageMessage, type JobWarning, type LinkMessage, type PackageCheck, type Phase,
} from '@img/shared/contracts';
import { DeadLetter, routes, type Broker, type DeliveryInfo } from '@img/shared/broker';
import { isSealedJob } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { ImgError, TransientError } from '@img/shared/errors';
import { DEFAULT_ARCH, type GroupTable } from '@img/shared/kickstart';
import { delivery, reuseImage, type BuildRegistry } from '@img/shared/builds';
import type { Config } from '../config.ts';
import type { DockerRunner } from '../docker-runner.ts';
import { DataLayout, JobUrls, jobKeys } from '@img/shared/layout';
import type { Storage } from '@img/shared/storage';
import type { QemuLauncher } from '@img/shared/boot';
import type { Cancellations } from '../cancellations.ts';
import type { BuildCache } from '../build-cache.ts';
import { BuildFailure } from '../build/failure.ts';
import { earlierOutcome, JobOutput } from '../build/job-output.ts';
import { planBuild, type PlannedBuild } from '../build/plan.ts';
import { checkBuildPackages, type PackageStepDeps } from '../build/package-step.ts';
import { runSandbox } from '../build/sandbox-run.ts';
import { noBuildMetrics, type BuildMetrics } from '../metrics.ts';
import { bootCheck } from '../build/boot-check.ts';
import type { ReadBack } from '../build/compress.ts';
import type { TakenFile } from '../sandbox-output.ts';

export interface BuildDeps {
  config: Config;
  builderImage: string;
  runner: DockerRunner;
  broker: Pick<Broker, 'publish' | 'openChannel'>;
  /** Where images, logs and reports go (a local directory, or the object store build hosts share). */
  storage: Storage;
  /** IMG_TOKEN_SECRET: only a job the frontend sealed is built (image-creator reads no job records). */
  tokenSecret: string;
  log: Logger;
  /** Deliveries allowed by the queue; on the last one an infrastructure failure fails the job instead of retrying. */
  maxAttempts: number;
  /** The group table `@Group` lines resolve through: the default template's. */
  groups: GroupTable;
  /** Where the boot check's QEMU runs; default: a sandbox container from the builder image. */
  bootLauncher?: (jobId: string) => QemuLauncher;
  cancellations: Cancellations;
  /** Which build makes which request; identical requests share one. */
  builds: Pick<BuildRegistry, 'claim' | 'complete' | 'release' | 'heartbeat' | 'buildingFor'>;
  /** How often the builder of a claimed request says it is alive (the registry's staleMs is a few of these). */
  heartbeatMs: number;
  builderVersion: string;
  /** The shared package and root file system caches; none: every build downloads and installs everything. */
  cache?: BuildCache;
  /** Prometheus figures of the builds; none: not counted. */
  metrics?: BuildMetrics;
  /** The host uid and gid of the containers' root under userns-remap; none: the engine does not remap. */
  sandboxRoot?: { uid: number; gid: number } | undefined;
  /** The package index the kickstart's packages are checked against before the build. */
  packages: Omit<PackageStepDeps, 'groups' | 'log'>;
}

/** How often a request identical to one being built looks again. */
const IDENTICAL_POLL_MS = 3000;

export function buildHandler(deps: BuildDeps) {
  // After a lost connection RabbitMQ delivers a message again while its first delivery may still be
  // building here; the second waits for the first and then answers from what it left.
  const running = new Map<string, Promise<void>>();
  return async (msg: ImageMessage, info: DeliveryInfo): Promise<void> => {
    const earlier = running.get(msg.id);
    if (earlier) {
      deps.log.info({ jobId: msg.id, attempt: info.attempt }, 'this job is still being built here; the new delivery waits for it');
      await earlier.catch(() => {});
    }
    const p = deliver(deps, msg, info);
    running.set(msg.id, p);
    try {
      await p;
    } finally {
      if (running.get(msg.id) === p) running.delete(msg.id);
    }
  };
}

async function deliver(deps: BuildDeps, msg: ImageMessage, info: DeliveryInfo): Promise<void> {
  const { config } = deps;
  const log = deps.log.child({ jobId: msg.id, imagetype: msg.imagetype, attempt: info.attempt });
  // This delivery's name in the build claims: another delivery of the same job is someone else.
  const owner = randomUUID();
  const metrics = deps.metrics ?? noBuildMetrics;
  // The request's architecture (a fixed set: the message's schema allows only those IMG builds).
  const arch = msg.arch ?? DEFAULT_ARCH;
  const labels = { type: msg.imagetype, arch };
  const paths = new DataLayout(config.IMG_DATA_DIR).job(msg.id);
  const jobUrls = new JobUrls(config.IMG_PUBLIC_URL);
  const urls = { image: jobUrls.image(msg.id), log: jobUrls.log(msg.id) };

  log.info('build message received');
  if (deps.cancellations.isCancelled(msg.id)) {
    log.info('job was cancelled before its build started; dropped');
    return;
  }
  // The frontend's seal says the job was submitted, for this address and image type.
  if (!isSealedJob(deps.tokenSecret, msg)) throw new DeadLetter('the message carries no valid seal of the frontend (a build nobody submitted, or for another address or image type): not built');
  if (await replay(deps, log, msg.id)) return;
  // The same job may be in another image-creator's hands: a message delivered again after its
  // consumer's connection was lost (its RabbitMQ node died, say) while that consumer builds on, or
  // published twice because a confirm was lost. This delivery waits for that build, without
  // touching the job's log, and answers from what it leaves.
  if (await waitForOtherDelivery(deps, msg.id, log)) {
    if (deps.cancellations.isCancelled(msg.id)) return;
    if (await replay(deps, log, msg.id)) return;
  }

  const output = await JobOutput.open({ storage: deps.storage, broker: deps.broker, log, dataDir: config.IMG_DATA_DIR, maxLogMb: config.IMG_MAX_LOG_MB }, msg.id, info.attempt);
  const { jobLog } = output;
  // Set once the outcome is reported: the live log is over then, and its stream goes.
  let ended = false;
  let phase: Phase = 'queued';
  let phaseSince = Date.now();
  const progress: Promise<void>[] = [];
  // What the package check found, reported with the next progress message and with the outcome.
  let checkReport: { package_check: PackageCheck; warnings: JobWarning[] } | undefined;
  let checkReported = false;
  const endPhase = () => {
    if (phase !== 'queued') metrics.phase(phase, (Date.now() - phaseSince) / 1000);
    phaseSince = Date.now();
  };
  const onPhase = (p: Phase) => {
    if (p === phase) return;
    endPhase();
    phase = p;
    const report = checkReport && !checkReported ? checkReport : {};
    checkReported ||= checkReport !== undefined;
    progress.push(deps.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: jobKeys(msg.id).log, phase: p, ...report }).catch((err: Error) => {
      log.warn({ err: err.message }, 'could not publish progress');
    }));
  };
  const fail = async (f: BuildFailure) => {
    jobLog.write(`\nIMG FAILED MISERABLY IN CREATING THE IMAGE!\n${f.code}: ${f.message}\n`);
    await output.storeLog();
    log.info({ code: f.code, message: f.message }, 'build failed');
    metrics.failed(f.code, f.phase);
    metrics.finished(labels, 'failed');
    // Whatever the build printed, the report must fit its contract, or the job would never end.
    const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);
    const report = errorMessage.parse({
      id: msg.id, error: clip(f.message, 4000), url: urls.log, email: msg.email, imagetype: msg.imagetype, code: f.code, phase: f.phase,
      excerpt: f.excerpt.slice(-200).map((l) => clip(l, 2000)), version: CONTRACT_VERSION,
      ...(f.line ? { position: { line: f.line } } : {}), ...(suite ? { suite } : {}), arch, ...(checkReport ?? {}),
    });
    await deps.broker.publish(routes.error, errorMessage, report);
    ended = true;
    await output.writeFailure(report);
  };

  // Set once this job builds for its request hash; released unless the build completes.
  let claimedHash: string | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let completed = false;
  // Known once the kickstart is read: the reports say which suite the image was (to be) built from.
  let suite: string | undefined;
  try {
    jobLog.write(`IMG build of job ${msg.id}: image type ${msg.imagetype}, builder ${deps.builderImage}, attempt ${info.attempt}, ${new Date().toISOString()}\n`);
    const planned = planBuild(msg, { ...deps, limits: { maxRootSizeMib: config.IMG_MAX_DISK_MB }, defaultSuite: config.IMG_DEFAULT_SUITE });
    suite = planned.plan.suite;
    jobLog.write(`IMG: Debian ${suite}, ${planned.plan.architecture}\n`);
    log.info({ suite, arch: planned.plan.architecture, rebuild: msg.rebuild === true }, 'build planned');
    if (msg.rebuild) jobLog.write('IMG: a fresh build was asked for (rebuild): no earlier identical build answers it, and the cached installed root file system is not used\n');
    const checked = await checkBuildPackages({ ...deps.packages, groups: deps.groups, log }, msg, planned, jobLog);
    checkReport = { package_check: checked.check, warnings: checked.warnings };
    if (checked.failure) throw checked.failure;
    for (const note of planned.notes) jobLog.write(`${note}\n`);

    // Identical requests are built once: answered from a finished build, or after waiting for a running one.
    for (let waiting = false; ; waiting = true) {
      if (deps.cancellations.isCancelled(msg.id)) {
        log.info('cancelled while waiting for an identical build');
        jobLog.write('\nIMG: the job was cancelled while it waited for an identical build.\n');
        await output.storeLog();
        ended = true;
        return;
      }
      const claim = await deps.builds.claim(planned.hash, msg.id, Date.now(), owner, { rebuild: msg.rebuild === true });
      if (claim.kind === 'claimed') break;
      if (claim.kind === 'done' && claim.image.job === msg.id) {
        // This job's own build, finished by another delivery of it: the same answer again.
        const { filename, size, sha256, duration_s, verified } = claim.image;
        log.info('built by another delivery of this job; publishing its link');
        await deps.broker.publish(routes.link, linkMessage, {
          id: msg.id, url: urls.image, email: msg.email, imagetype: msg.imagetype, filename, size, sha256, duration_s, logurl: urls.log,
          version: CONTRACT_VERSION, request_hash: planned.hash, suite, ...(verified ? { verified } : {}), ...delivery(claim.image),
        });
        return;
      }
      if (claim.kind === 'building' && claim.job === msg.id) {
        if (!waiting) log.info('another delivery of this job is building it; waiting for it');
        await new Promise((r) => setTimeout(r, IDENTICAL_POLL_MS));
        continue;
      }
      if (claim.kind === 'done') {
        const reused = await reuseImage({
          storage: deps.storage, publicUrl: config.IMG_PUBLIC_URL, image: claim.image, writeLog: false,
          job: { id: msg.id, email: msg.email, imagetype: msg.imagetype },
        });
        jobLog.write(`IMG: identical to an earlier build (same kickstart, image type and builder): answered from its image ${reused.filename}, sha256 ${reused.sha256}\n`);
        await output.storeLog();
        log.info('answered from an identical build');
        metrics.cache('image', true);
        metrics.finished(labels, 'reused');
        await deps.broker.publish(routes.link, linkMessage, { ...reused, request_hash: planned.hash, suite, arch, start: 'identical', ...checkReport });
        ended = true;
        return;
      }
      if (!waiting) jobLog.write('IMG: an identical request is being built right now; this job waits for it and shares its image\n');
      await new Promise((r) => setTimeout(r, IDENTICAL_POLL_MS));
    }
    metrics.cache('image', false);
    metrics.started(labels, (Date.now() - (msg.submitted_at ? Date.parse(msg.submitted_at) : Date.now())) / 1000);
    claimedHash = planned.hash;
    const hash = claimedHash;
    heartbeat = setInterval(() => {
      deps.builds.heartbeat(hash, msg.id).catch((err: Error) => log.warn({ err: err.message }, 'could not renew the build claim'));
    }, deps.heartbeatMs);

    const filename = `img-${msg.id.slice(0, 12)}-${msg.imagetype}.${planned.kind.extension}`;
    const started = Date.now();
    // The sandbox's first step: a failure to start it is a failure to fetch.
    phase = 'fetching';
    // How the packages come, on a progress message of its own as soon as the sandbox says.
    const onStart = (start: BuildStart) => {
      progress.push(deps.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: jobKeys(msg.id).log, phase, start }).catch((err: Error) => {
        log.warn({ err: err.message }, 'could not publish progress');
      }));
    };
    const built = await runSandbox(deps, msg, planned, { imageDir: paths.output, work: paths.work }, filename, jobLog, onPhase, { onStart });
    await Promise.all(progress);
    if (built.cancelled) {
      // The frontend has already marked the job cancelled and told the person.
      jobLog.write('\nIMG: the build was cancelled and its container stopped.\n');
      await output.storeLog();
      ended = true;
      log.info('build cancelled');
      metrics.finished(labels, 'cancelled');
      return;
    }
    log.info({ sandbox_s: built.sandboxS, start: built.start }, 'sandbox done');
    if (checkReport && built.skipped.length > 0) checkReport.warnings = skippedWarnings(checkReport.warnings, built.skipped, planned);
    if (planned.kind.boot && config.IMG_VERIFY_BOOT) {
      onPhase('verifying');
      await Promise.all(progress);
    }
    // A .zst's disk, written out for the check, goes once it has booted (or not).
    const verified = await bootCheck(deps, msg, planned.kind, built.disk?.disk ?? built.image.path, jobLog).catch(async (err: unknown) => {
      await rm(paths.output, { recursive: true, force: true });
      throw err;
    }).finally(() => (built.disk?.disk ? rm(built.disk.disk, { force: true }) : undefined));
    if (verified === 'cancelled') {
      await rm(paths.output, { recursive: true, force: true });
      await output.storeLog();
      ended = true;
      log.info('build cancelled');
      metrics.finished(labels, 'cancelled');
      return;
    }

    if (!built.packagesTsv) {
      await rm(paths.output, { recursive: true, force: true });
      throw new BuildFailure('build_output_invalid', 'the build finished but left no package manifest (/out/packages.tsv): the package list could not be read from dpkg\'s database in the image (the log says why)', { phase: 'assembling' });
    }
    const delivered = deliverable(msg, built.image, built.disk, filename);
    const { size, sha256 } = delivered.file;
    const duration_s = Math.round((Date.now() - started) / 100) / 10;
    jobLog.write(`\nIMG built ${delivered.file.name}: ${size} bytes, sha256 ${sha256}, ${duration_s} s\n`);
    const link: LinkMessage = {
      id: msg.id, url: urls.image, email: msg.email, imagetype: msg.imagetype, filename: delivered.file.name, size, sha256, duration_s, logurl: urls.log,
      version: CONTRACT_VERSION, request_hash: claimedHash, suite, arch, start: built.start, ...(verified ? { verified } : {}), ...(checkReport ?? {}), ...delivered.delivery,
    };
    // The image, then the log, then the result that answers a redelivery: each whole before the next.
    const storing = Date.now();
    const manifest = await output.storeManifest(built.packagesTsv.path, { ...(suite ? { suite } : {}), arch });
    jobLog.write(`IMG: package manifest: ${manifest.packages.length} installed packages\n`);
    link.packages = manifest.packages.length;
    await output.storeImage(delivered.file.path, delivered.file.name);
    await output.storeLog();
    await output.writeResult(link);
    const storeS = (Date.now() - storing) / 1000;
    await deps.builds.complete(claimedHash, { job: msg.id, filename: delivered.file.name, size, sha256, duration_s, ...(verified ? { verified } : {}), ...delivered.delivery });
    completed = true;
    log.info({ size, duration_s, sandbox_s: built.sandboxS, store_s: storeS }, 'image built');
    endPhase();
    metrics.finished(labels, 'done', duration_s);
    await deps.broker.publish(routes.link, linkMessage, link);
    ended = true;
  } catch (err) {
    const e = err as Error;
    jobLog.write(`\n${e.message}\n`);
    if (err instanceof BuildFailure) return await fail(err);
    if (err instanceof ImgError && !err.transient) return await fail(new BuildFailure(err.code, e.message, { phase }));
    if (info.attempt >= deps.maxAttempts) {
      return await fail(new BuildFailure('sandbox_error', `the build could not be run after ${info.attempt} attempts: ${e.message}`, { phase }));
    }
    throw new TransientError(`build of ${msg.id} failed in its ${phase} phase before it could finish: ${e.message}`, err);
  } finally {
    clearInterval(heartbeat);
    await output.close(ended);
    if (claimedHash && !completed) await deps.builds.release(claimedHash, msg.id).catch((err: Error) => log.warn({ err: err.message }, 'could not release the build claim'));
  }
}

/**
 * The file the job delivers: raw, loop and the ISOs as the .zst the sandbox made, with the size and
 * sha256 of the image in it as the host counted them; a qcow2 was compressed by qemu-img in the
 * sandbox; the other types as built.
 */
function deliverable(msg: ImageMessage, image: TakenFile, disk: ReadBack | undefined, filename: string): { file: { path: string; name: string; size: number; sha256: string }; delivery: Delivery } {
  if (msg.imagetype === 'qcow2') return { file: { path: image.path, name: filename, size: image.size, sha256: image.sha256 }, delivery: { compression: 'qcow2' } };
  // A .zst was read back by the host (sandbox-run.ts): the types in ZSTD_TYPES, and only those.
  if (disk) return { file: { path: image.path, name: `${filename}.zst`, size: image.size, sha256: image.sha256 }, delivery: { compression: 'zstd', disk_size: disk.size, disk_sha256: disk.sha256 } };
  return { file: { path: image.path, name: filename, size: image.size, sha256: image.sha256 }, delivery: {} };
}

/** Waits while another delivery of this job builds it; says whether it waited. */
async function waitForOtherDelivery(deps: BuildDeps, jobId: string, log: Logger): Promise<boolean> {
  let waited = false;
  while (!deps.cancellations.isCancelled(jobId) && await deps.builds.buildingFor(jobId)) {
    if (!waited) log.info('another delivery of this job is building it; waiting for it');
    waited = true;
    await new Promise((r) => setTimeout(r, IDENTICAL_POLL_MS));
  }
  return waited;
}

/**
 * A redelivery after the job ended (a crash between finishing and acking, here or on another host)
 * is answered from what the first delivery left in the store: its result, whose build claim is
 * completed now if that was lost, or its failure.
 */
async function replay(deps: BuildDeps, log: Logger, id: string): Promise<boolean> {
  const earlier = await earlierOutcome(deps.storage, id);
  if (earlier.link) {
    log.info('image already built, publishing its link again');
    const parsed = earlier.link;
    if (parsed.request_hash) {
      const { filename, size, sha256, duration_s, verified } = parsed;
      await deps.builds.complete(parsed.request_hash, { job: parsed.id, filename, size, sha256, duration_s, ...(verified ? { verified } : {}), ...delivery(parsed) });
    }
    await deps.broker.publish(routes.link, linkMessage, parsed);
    return true;
  }
  if (earlier.failure) {
    log.info('this job failed already, reporting the same failure again');
    await deps.broker.publish(routes.error, errorMessage, earlier.failure);
    return true;
  }
  return false;
}


/**
 * Packages the build left out under %packages --ignoremissing, as warnings on the lines that named them
 * (a group's line for a group's package), unless the check before the build already warned of them.
 */
function skippedWarnings(warnings: JobWarning[], skipped: readonly string[], planned: PlannedBuild): JobWarning[] {
  const out = [...warnings];
  const lines = planned.parsed.lines;
  for (const name of skipped) {
    const line = lines.include.get(name) ?? [...lines.groups.values()][0] ?? lines.packages;
    if (out.some((w) => w.line === line && w.message.includes(`'${name}'`))) continue;
    if (out.length >= 100) break;
    out.push({ ...(line ? { line } : {}), message: `package '${name}' is not in the build's package lists: it was left out (%packages --ignoremissing)` });
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
