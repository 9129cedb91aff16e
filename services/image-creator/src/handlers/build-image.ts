// image_queue → a build in the sandbox → link_queue or error_queue, with progress on result_queue.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { builtImageTypes, errorMessage, type ErrorMessage, imageMessage, linkMessage, resultMessage, type ImageMessage, type LinkMessage, type Phase } from '@img/shared/contracts';
import { routes, type Broker, type DeliveryInfo } from '@img/shared/broker';
import type { Logger } from '@img/shared/logging';
import { ImgError, TransientError, type ErrorCode } from '@img/shared/errors';
import { parseKickstart, resolveGroups, type BuildPlan, type GroupTable } from '@img/shared/kickstart';
import type { Config } from '../config.ts';
import type { DockerRunner } from '../docker-runner.ts';
import { LogScanner } from '../log-scanner.ts';
import { classifyFailure } from '../classify-failure.ts';
import { jobPaths } from '../paths.ts';
import { imageKinds, prepareBuild } from '../image-types.ts';
import { DEFAULT_MARKER, plainConsoleText, verifyBoot, type QemuLauncher } from '../verify-boot.ts';
import { sandboxQemuLauncher } from '../sandbox-qemu.ts';
import type { Cancellations } from '../cancellations.ts';
import type { BuildCache, CachePlan } from '../build-cache.ts';
import { requestHash, reuseImage, type BuildRegistry } from '@img/shared/builds';

export interface BuildDeps {
  config: Config;
  builderImage: string;
  runner: DockerRunner;
  broker: Pick<Broker, 'publish'>;
  log: Logger;
  /** Deliveries allowed by the queue; on the last one an infrastructure failure fails the job instead of retrying. */
  maxAttempts: number;
  /** The group table `@Group` lines resolve through: the default template's. */
  groups: GroupTable;
  /** Where the boot check's QEMU runs; default: a sandbox container from the builder image. */
  bootLauncher?: (jobId: string) => QemuLauncher;
  cancellations: Cancellations;
  /** Which build makes which request; identical requests share one. */
  builds: Pick<BuildRegistry, 'claim' | 'complete' | 'release'>;
  builderVersion: string;
  /** The shared package and root file system caches; none: every build downloads and installs everything. */
  cache?: BuildCache;
}

/** Guest memory of the boot check. */
const BOOT_MEMORY_MB = 1024;

export function buildHandler(deps: BuildDeps) {
  // After a lost connection RabbitMQ delivers a message again while its first delivery may still be
  // building here; the second waits for the first and then answers from what it left.
  const running = new Map<string, Promise<void>>();
  const build = buildOnce(deps);
  return async (msg: ImageMessage, info: DeliveryInfo): Promise<void> => {
    const earlier = running.get(msg.id);
    if (earlier) {
      deps.log.info({ jobId: msg.id, attempt: info.attempt }, 'this job is still being built here; the new delivery waits for it');
      await earlier.catch(() => {});
    }
    const p = build(msg, info);
    running.set(msg.id, p);
    try {
      await p;
    } finally {
      if (running.get(msg.id) === p) running.delete(msg.id);
    }
  };
}

function buildOnce(deps: BuildDeps) {
  return async (msg: ImageMessage, info: DeliveryInfo): Promise<void> => {
    const log = deps.log.child({ jobId: msg.id, imagetype: msg.imagetype, attempt: info.attempt });
    const paths = jobPaths(deps.config.IMG_DATA_DIR, msg.id);
    const urls = {
      image: `${deps.config.IMG_PUBLIC_URL}/images/${msg.id}`,
      log: `${deps.config.IMG_PUBLIC_URL}/job/${msg.id}/log`,
    };

    if (deps.cancellations.isCancelled(msg.id)) {
      log.info('job was cancelled before its build started; dropped');
      return;
    }
    // A redelivery after the image was finished (crash between finishing and acking): answer from the result.
    const previous = await readFile(paths.result, 'utf8').then((t) => JSON.parse(t) as LinkMessage, () => undefined);
    if (previous) {
      log.info('image already built, publishing its link again');
      await deps.broker.publish(routes.link, linkMessage, previous);
      return;
    }
    const failedBefore = await readFile(paths.failure, 'utf8').then((t) => JSON.parse(t) as ErrorMessage, () => undefined);
    if (failedBefore) {
      log.info('this job failed already, reporting the same failure again');
      await deps.broker.publish(routes.error, errorMessage, failedBefore);
      return;
    }

    await mkdir(join(deps.config.IMG_DATA_DIR, 'logs'), { recursive: true });
    const logStream = createWriteStream(paths.log, { flags: info.attempt > 1 ? 'a' : 'w' });
    const write = (text: string) => logStream.write(text);
    // The build's own output is capped, so a %post printing without end cannot fill the disk;
    // IMG's lines (the result, the error) are always written.
    const maxLog = deps.config.IMG_MAX_LOG_MB * 1024 * 1024;
    let logged = 0;
    const writeOutput = (chunk: Buffer) => {
      if (logged >= maxLog) return;
      logged += chunk.length;
      write(logged < maxLog ? chunk.toString('utf8') : `\n[IMG: the log was cut at ${deps.config.IMG_MAX_LOG_MB} MiB; the rest of the build's output is not kept]\n`);
    };
    const failJob = async (code: ErrorCode, message: string, phase: Phase, excerpt: string[], line?: number) => {
      write(`\nIMG FAILED MISERABLY IN CREATING THE IMAGE!\n${code}: ${message}\n`);
      await closeStream(logStream);
      log.info({ code, message }, 'build failed');
      // Whatever the build printed, the report must fit its contract, or the job would never end.
      const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);
      const report = errorMessage.parse({
        id: msg.id, error: clip(message, 4000), url: urls.log, email: msg.email, imagetype: msg.imagetype, code, phase,
        excerpt: excerpt.slice(-200).map((l) => clip(l, 2000)),
        ...(line ? { position: { line } } : {}),
      });
      await deps.broker.publish(routes.error, errorMessage, report);
      await writeFile(paths.failure, JSON.stringify(report));
    };

    // Set once this job builds for its request hash; released unless the build completes.
    let claimedHash: string | undefined;
    let completed = false;
    try {
      write(`IMG build of job ${msg.id}: image type ${msg.imagetype}, builder ${deps.builderImage}, attempt ${info.attempt}, ${new Date().toISOString()}\n`);
      const parsed = parseKickstart(msg.ksfile, { file: 'kickstart' });
      if (!parsed.plan || parsed.errors.length > 0) {
        const first = parsed.errors[0];
        const lines = parsed.errors.map((e) => `kickstart:${e.line}: ${e.message}`);
        write(`${lines.join('\n')}\n`);
        await failJob('invalid_kickstart', first ? `kickstart line ${first.line}: ${first.message}` : 'the kickstart could not be read', 'queued', lines, first?.line);
        return;
      }
      if (!builtImageTypes.includes(msg.imagetype)) {
        await failJob('unsupported_image_type', `the image type '${msg.imagetype}' is not built by this version of IMG yet`, 'queued', []);
        return;
      }
      const include = [...parsed.plan.packages.include];
      if (parsed.plan.packages.groups.length > 0) {
        const resolved = resolveGroups(parsed.plan.packages.groups, deps.groups);
        if (resolved.errors.length > 0) {
          const lines = resolved.errors.map((e) => e.message);
          write(`${lines.join('\n')}\n`);
          await failJob('invalid_kickstart', lines[0] ?? 'unknown group', 'queued', lines);
          return;
        }
        include.push(...resolved.packages);
      }
      const kind = imageKinds[msg.imagetype];
      const prepared = prepareBuild(parsed.plan, msg.imagetype, include);
      if (prepared.error) {
        write(`${prepared.error}\n`);
        await failJob('invalid_kickstart', prepared.error, 'queued', [prepared.error]);
        return;
      }
      for (const note of prepared.notes) write(`${note}\n`);

      // Identical requests are built once: answered from a finished build, or after waiting for a running one.
      const hash = requestHash(parsed.plan, msg.imagetype, deps.builderVersion);
      for (let waiting = false; ; waiting = true) {
        if (deps.cancellations.isCancelled(msg.id)) {
          log.info('cancelled while waiting for an identical build');
          return;
        }
        const claim = await deps.builds.claim(hash, msg.id);
        if (claim.kind === 'claimed') break;
        if (claim.kind === 'done') {
          const reused = await reuseImage({
            dataDir: deps.config.IMG_DATA_DIR, publicUrl: deps.config.IMG_PUBLIC_URL, image: claim.image, writeLog: false,
            job: { id: msg.id, email: msg.email, imagetype: msg.imagetype },
          });
          write(`IMG: identical to an earlier build (same kickstart, image type and builder): answered from its image ${reused.filename}, sha256 ${reused.sha256}\n`);
          await closeStream(logStream);
          log.info('answered from an identical build');
          await deps.broker.publish(routes.link, linkMessage, { ...reused, request_hash: hash });
          return;
        }
        if (!waiting) write('IMG: an identical request is being built right now; this job waits for it and shares its image\n');
        await new Promise((r) => setTimeout(r, 3000));
      }
      claimedHash = hash;

      await rm(paths.work, { recursive: true, force: true });
      await rm(paths.imageDir, { recursive: true, force: true });
      await mkdir(paths.imageDir, { recursive: true });
      const inDir = join(paths.work, 'in');
      await writeInputs(inDir, parsed.plan);
      const cachePlan = deps.cache ? await deps.cache.plan(parsed.plan, prepared.include, deps.builderVersion, deps.config.IMG_DEBIAN_MIRROR ?? '') : undefined;
      if (cachePlan && !cachePlan.shareable) write('IMG: cache: this kickstart adds its own repositories, so nothing this build downloads or installs is kept for other builds\n');
      if (cachePlan?.rootfsHit) write(`IMG: cache: installed root file system ${cachePlan.rootfsKey.slice(0, 12)} of an earlier build with the same packages and repositories is used\n`);

      let lastPhase: Phase = 'queued';
      const progress: Promise<void>[] = [];
      const onPhase = (phase: Phase) => {
        lastPhase = phase;
        log.debug({ phase }, 'phase');
        progress.push(deps.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: `logs/${msg.id}.log`, phase }).catch((err: Error) => {
          log.warn({ err: err.message }, 'could not publish progress');
        }));
      };
      // The build offers its downloads before any %post runs; they are taken at once, out of its reach.
      let offer: Promise<void> | undefined;
      const onCacheExport = () => {
        if (!deps.cache || !cachePlan?.shareable) return;
        const cache = deps.cache;
        offer = cache.admit(join(paths.imageDir, '.cache-export'), cachePlan.rootfsKey, msg.id).then((got) => {
          write(`IMG: cache: kept ${got.debs} new packages (${Math.round(got.debBytes / 1048576)} MiB)${got.rootfs ? ` and the installed root file system ${cachePlan.rootfsKey.slice(0, 12)}` : ''}\n`);
          log.info({ debs: got.debs, debBytes: got.debBytes, rootfs: got.rootfs }, 'build cache: offer taken');
        }, (err: Error) => {
          log.warn({ err: err.message }, 'build cache: could not take the offer');
          return rm(join(paths.imageDir, '.cache-export'), { recursive: true, force: true });
        });
      };
      const scan = new LogScanner({ onPhase, onCacheExport });
      // The work area is a capped tmpfs; what the build writes to the host (the image) is held to the same size.
      const diskMb = deps.config.IMG_BUILD_DISK_MB;
      const overrun = new AbortController();
      let diskOverrun: string | undefined;
      const started = Date.now();
      const cancelled = deps.cancellations.start(msg.id);
      const stopSignal = AbortSignal.any([cancelled, overrun.signal]);
      // A previous attempt's container (the process that ran it was killed) must not go on.
      await deps.runner.removeOrphans((jobId) => jobId !== msg.id);
      const watch = setInterval(() => {
        void dirBytes(paths.imageDir).then((bytes) => {
          if (bytes > diskMb * 1048576 && !overrun.signal.aborted) {
            diskOverrun = `the build wrote ${Math.round(bytes / 1048576)} MiB to its output, more than its limit of ${diskMb} MiB, and was stopped`;
            overrun.abort();
          }
        }, () => {});
      }, 2000);
      const result = await deps.runner.run({
        jobId: msg.id,
        image: deps.builderImage,
        cmd: ['/opt/img/build-in-sandbox.sh'],
        env: {
          IMG_IMAGETYPE: msg.imagetype,
          IMG_SUITE: parsed.plan.suite,
          IMG_INCLUDE: prepared.include.join(','),
          IMG_EXCLUDE: parsed.plan.packages.exclude.join(','),
          IMG_HOSTNAME: parsed.plan.hostname ?? '',
          IMG_TIMEZONE: parsed.plan.timezone?.zone ?? '',
          IMG_DEBIAN_MIRROR: deps.config.IMG_DEBIAN_MIRROR ?? '',
          ...prepared.env,
          ...cacheEnv(cachePlan),
        },
        mounts: [
          { host: inDir, container: '/in', readOnly: true },
          { host: paths.imageDir, container: '/out', readOnly: false },
          ...(cachePlan?.debDir ? [{ host: cachePlan.debDir, container: '/cache/debs', readOnly: true }] : []),
          ...(cachePlan?.rootfsHit ? [{ host: cachePlan.rootfsHit, container: '/cache/rootfs.tar', readOnly: true }] : []),
        ],
        workAreaMb: diskMb,
        memoryBytes: (deps.config.IMG_BUILD_MEMORY_MB + diskMb) * 1024 * 1024,
        nanoCpus: Math.round(deps.config.IMG_BUILD_CPUS * 1e9),
        pidsLimit: deps.config.IMG_BUILD_PIDS,
        timeoutMs: deps.config.IMG_BUILD_TIMEOUT_S * 1000,
      }, (chunk) => {
        writeOutput(chunk);
        scan.push(chunk);
      }, stopSignal).finally(() => {
        clearInterval(watch);
        deps.cancellations.finish(msg.id);
      });
      scan.end();
      const sandboxS = (Date.now() - started) / 1000;
      await Promise.all(progress);
      await offer;
      // Whatever a %post left where the offer goes is not part of the result.
      await rm(join(paths.imageDir, '.cache-export'), { recursive: true, force: true });
      if (deps.cache) void deps.cache.prune().catch((err: Error) => log.warn({ err: err.message }, 'build cache: prune failed'));

      if (cancelled.aborted) {
        // The frontend has already marked the job cancelled and told the person.
        write('\nIMG: the build was cancelled and its container stopped.\n');
        await rm(paths.imageDir, { recursive: true, force: true });
        log.info('build cancelled');
        return;
      }

      // A script that ran into the process limit may have left the image half made, even if it exited 0.
      if (result.exitCode !== 0 || !scan.done || scan.processLimitLines.length > 0 || diskOverrun) {
        const c = classifyFailure(result, scan, lastPhase, { timeoutS: deps.config.IMG_BUILD_TIMEOUT_S, memoryMb: deps.config.IMG_BUILD_MEMORY_MB, pids: deps.config.IMG_BUILD_PIDS, diskMb }, diskOverrun);
        await rm(paths.imageDir, { recursive: true, force: true });
        await failJob(c.code, c.message, c.phase, c.excerpt, c.line);
        return;
      }

      const produced = (await readdir(paths.imageDir)).find((f) => f.startsWith('image.'));
      if (!produced) throw new ImgError('build_failed', 'the build finished but produced no image');
      const filename = `img-${msg.id.slice(0, 12)}-${msg.imagetype}.${kind.extension}`;
      const finalPath = join(paths.imageDir, filename);
      await rename(join(paths.imageDir, produced), finalPath);

      let verified: LinkMessage['verified'];
      if (kind.boot && deps.config.IMG_VERIFY_BOOT) {
        onPhase('verifying');
        await Promise.all(progress);
        // A kickstart that writes the marker is held to it; any other passes on a login prompt.
        const marker = msg.ksfile.includes(DEFAULT_MARKER) ? DEFAULT_MARKER : undefined;
        write(`\nIMG: boot check: starting the image in QEMU (emulated, no network), waiting up to ${deps.config.IMG_VERIFY_TIMEOUT_S} s for ${marker ? `the marker ${marker}` : 'a login prompt'} on the serial console\n`);
        const launch = deps.bootLauncher?.(msg.id) ?? sandboxQemuLauncher({
          runner: deps.runner, image: deps.builderImage, jobId: msg.id, memoryMb: BOOT_MEMORY_MB, nanoCpus: Math.round(deps.config.IMG_BUILD_CPUS * 1e9),
        });
        // A cancel during the check stops its container the same way it stops a build's.
        const bootCancelled = deps.cancellations.start(msg.id);
        const boot = await verifyBoot({
          file: finalPath, target: kind.boot, timeoutS: deps.config.IMG_VERIFY_TIMEOUT_S, memoryMb: BOOT_MEMORY_MB, launch, ...(marker ? { marker } : {}),
          onConsole: (chunk) => write(plainConsoleText(chunk.toString('utf8'))),
          signal: bootCancelled,
        }).finally(() => deps.cancellations.finish(msg.id));
        if (bootCancelled.aborted) {
          write('\nIMG: the build was cancelled during its boot check, and QEMU stopped.\n');
          await rm(paths.imageDir, { recursive: true, force: true });
          log.info('build cancelled');
          return;
        }
        write(`\nIMG: boot check ${boot.ok ? 'passed' : 'FAILED'}: ${boot.detail}\n`);
        log.info({ ok: boot.ok, seconds: boot.seconds }, 'boot check');
        if (!boot.ok) {
          await rm(paths.imageDir, { recursive: true, force: true });
          await failJob('boot_failed', `the image did not boot: ${boot.detail}`, 'verifying', boot.tail);
          return;
        }
        verified = { ok: true, detail: boot.detail, seconds: boot.seconds };
      }
      const { size } = await stat(finalPath);
      const summing = Date.now();
      const sha256 = await sha256File(finalPath);
      const checksumS = (Date.now() - summing) / 1000;
      const duration_s = Math.round((Date.now() - started) / 100) / 10;
      write(`\nIMG built ${filename}: ${size} bytes, sha256 ${sha256}, ${duration_s} s\n`);
      await closeStream(logStream);
      const link: LinkMessage = {
        id: msg.id, url: urls.image, email: msg.email, imagetype: msg.imagetype, filename, size, sha256, duration_s, logurl: urls.log, version: 1,
        ...(verified ? { verified } : {}),
      };
      await writeFile(paths.result, JSON.stringify(linkMessage.parse(link)));
      if (claimedHash) {
        await deps.builds.complete(claimedHash, { job: msg.id, filename, size, sha256, duration_s, ...(verified ? { verified } : {}) });
        completed = true;
        link.request_hash = claimedHash;
      }
      log.info({ size, duration_s, sandbox_s: sandboxS, checksum_s: checksumS }, 'image built');
      await deps.broker.publish(routes.link, linkMessage, link);
    } catch (err) {
      const e = err as Error;
      if (!logStream.closed) write(`\n${e.message}\n`);
      const permanent = err instanceof ImgError && !err.transient;
      if (permanent || info.attempt >= deps.maxAttempts) {
        const code: ErrorCode = permanent ? err.code : 'sandbox_error';
        await failJob(code, permanent ? e.message : `the build could not be run after ${info.attempt} attempts: ${e.message}`, 'queued', []);
        return;
      }
      await closeStream(logStream);
      throw new TransientError(`build of ${msg.id} failed before it could finish: ${e.message}`, err);
    } finally {
      if (!logStream.closed) await closeStream(logStream);
      await rm(paths.work, { recursive: true, force: true }).catch(() => {});
      if (claimedHash && !completed) await deps.builds.release(claimedHash, msg.id).catch((err: Error) => log.warn({ err: err.message }, 'could not release the build claim'));
    }
  };
}

/** What the sandbox script is told of the caches; the paths are where the runner mounts them. */
function cacheEnv(plan: CachePlan | undefined): Record<string, string> {
  if (!plan) return {};
  return {
    ...(plan.debDir ? { IMG_DEB_CACHE: '/cache/debs' } : {}),
    ...(plan.rootfsHit ? { IMG_ROOTFS_CACHED: '/cache/rootfs.tar' } : {}),
    ...(plan.shareable ? { IMG_CACHE_EXPORT: '1' } : {}),
    ...(plan.exportRootfs ? { IMG_ROOTFS_EXPORT: '1' } : {}),
  };
}

/** Disk space used under a directory (allocated blocks: a sparse disk image counts what it holds). */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else total += await lstat(p).then((st) => st.blocks * 512, () => 0);
  }
  return total;
}

async function writeInputs(inDir: string, plan: BuildPlan): Promise<void> {
  await mkdir(join(inDir, 'post'), { recursive: true });
  const repos = plan.repos.length > 0 ? plan.repos : [{ name: 'debian', suite: plan.suite, components: ['main'] }];
  const sources = repos.map((r) => `deb ${r.baseurl ?? '@DEFAULT_MIRROR@'} ${r.suite} ${r.components.join(' ')}`);
  await writeFile(join(inDir, 'sources.list'), `${sources.join('\n')}\n`);
  if (plan.rootpw && !plan.rootpw.lock) {
    await writeFile(join(inDir, 'rootpw'), `root:${plan.rootpw.password}\n`, { mode: 0o600 });
    if (plan.rootpw.iscrypted) await writeFile(join(inDir, 'rootpw.crypted'), '');
  }
  let n = 0;
  for (const s of plan.post) {
    const name = String(++n).padStart(2, '0');
    await writeFile(join(inDir, 'post', name), s.body.endsWith('\n') ? s.body : `${s.body}\n`);
    await writeFile(join(inDir, 'post', `${name}.interp`), s.interpreter);
    await writeFile(join(inDir, 'post', `${name}.line`), String(s.line));
    if (s.nochroot) await writeFile(join(inDir, 'post', `${name}.nochroot`), '');
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

function closeStream(s: NodeJS.WritableStream & { closed?: boolean }): Promise<void> {
  return new Promise((r) => {
    if (s.closed) return r();
    s.end(() => r());
  });
}

export { imageMessage };
