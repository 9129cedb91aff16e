// Step 2: the build in its sandbox container, and its output taken out as data.
// Nothing of the host is writable by the build: its inputs and the caches are mounted read-only, and
// its output directory lives in the container's own capped tmpfs. The host takes the output out as a
// tar stream while the container waits for it, and reads it with sandbox-output.ts: regular files
// with the expected names only, bounded, written by the host into a directory the build never saw.
import type { BuildMetrics } from '../metrics.ts';
import { lchown, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildStart, ImageMessage, Phase } from '@img/shared/contracts';
import type { Logger } from '@img/shared/logging';
import { ImgError } from '@img/shared/errors';
import type { Config } from '../config.ts';
import type { DockerRunner, RunningSandbox, SandboxResult } from '../docker-runner.ts';
import type { Cancellations } from '../cancellations.ts';
import { DEB_NAME, MAX_DEB_BYTES, MAX_OFFER_SUMS_BYTES, MAX_PACKAGES_BYTES, OFFER_SUMS, offerUnsealed, type BuildCache, type CachePlan } from '../build-cache.ts';
import { LogScanner } from '../log-scanner.ts';
import { classifyFailure } from '../classify-failure.ts';
import { takeFiles, type OutputRule, type TakenFile } from '../sandbox-output.ts';
import { MAX_PACKAGES_TSV_BYTES } from '@img/shared/provenance';
import { kickstartEnv, writeInputs } from './inputs.ts';
import { emulationState } from '../emulation.ts';
import { BuildFailure } from './failure.ts';
import { ZstdReadBack, ZSTD_TYPES, type ReadBack } from './compress.ts';
import type { JobLog } from './job-log.ts';
import type { PlannedBuild } from './plan.ts';

export interface SandboxStepDeps {
  config: Config;
  /** Counts whether the root file system cache answered. */
  metrics?: Pick<BuildMetrics, 'cache'>;
  runner: DockerRunner;
  builderImage: string;
  builderVersion: string;
  cancellations: Cancellations;
  cache?: BuildCache;
  log: Logger;
  /** The host uid and gid of the containers' root (userns-remap): the build's inputs are handed to it. */
  sandboxRoot?: { uid: number; gid: number } | undefined;
}

export interface JobDirs {
  /** The host's directory of the job's image: made empty here, written only by the host. */
  imageDir: string;
  /** The host's scratch directory of the job (the inputs). */
  work: string;
}

export type SandboxOutcome =
  | { cancelled: true }
  | { cancelled: false; image: TakenFile; sandboxS: number; skipped: string[]; start: BuildStart; packagesTsv: TakenFile | undefined;
      /** For the types delivered as a .zst (the image taken out is that): what it holds, read back by the host, and the disk itself when a boot check needs it. */
      disk?: ReadBack };

/** A root file system prepared ahead of demand: no image, only the offer the cache took. */
export interface PreparedOutcome { cancelled: false; prepared: true; sandboxS: number; start: BuildStart }

export interface SandboxOptions {
  /** Install, offer the root file system to the cache, and stop: a base prepared ahead of demand (no image). */
  prepareOnly?: boolean;
  /** How the packages come, once the sandbox says (it may fall back to scratch). */
  onStart?: (start: BuildStart) => void;
  /** The cache plan's record says this root was prepared by image-creator. */
  prepared?: boolean;
}

/** Where the host keeps the build's package list, beside the image in the job's output directory. */
export const PACKAGES_TSV = 'packages.tsv';

/** The image as the script writes it: /out/image.<extension>. */
const IMAGE_NAME = /^image\.[a-z0-9][a-z0-9.]{0,15}$/;

export async function runSandbox(deps: SandboxStepDeps, msg: Pick<ImageMessage, 'id' | 'imagetype' | 'rebuild'>, planned: PlannedBuild, dirs: JobDirs, filename: string,
  jobLog: JobLog, onPhase: (phase: Phase) => void, opts: Omit<SandboxOptions, 'prepareOnly'> = {}): Promise<SandboxOutcome> {
  const out = await sandbox(deps, msg, planned, dirs, filename, jobLog, onPhase, opts);
  if ('prepared' in out) throw new Error('the build stopped after installing, with no image');
  return out;
}

/** Installs `planned`'s packages and offers the root file system to the cache; no %post, no image. */
export async function prepareRoot(deps: SandboxStepDeps, id: string, planned: PlannedBuild, dirs: JobDirs, jobLog: JobLog): Promise<PreparedOutcome | { cancelled: true }> {
  const out = await sandbox(deps, { id, imagetype: 'tar' }, planned, dirs, 'prepared.tar.zst', jobLog, () => {}, { prepareOnly: true, prepared: true });
  if (!out.cancelled && !('prepared' in out)) throw new Error('the preparation made an image');
  return out;
}

async function sandbox(deps: SandboxStepDeps, msg: Pick<ImageMessage, 'id' | 'imagetype' | 'rebuild'>, planned: PlannedBuild, dirs: JobDirs, filename: string,
  jobLog: JobLog, onPhase: (phase: Phase) => void, opts: SandboxOptions): Promise<SandboxOutcome | PreparedOutcome> {
  const { config } = deps;
  const log = deps.log.child({ jobId: msg.id });
  // Another architecture's programs run only where the host emulates it: said plainly, before anything starts.
  const emulation = await emulationState(planned.plan.architecture, config.IMG_BINFMT_DIR);
  if (!emulation.ok) throw new BuildFailure('sandbox_error', emulation.problem ?? `this build host cannot build for ${planned.plan.architecture}`, { phase: 'fetching' });
  await rm(dirs.work, { recursive: true, force: true });
  await rm(dirs.imageDir, { recursive: true, force: true });
  await mkdir(dirs.imageDir, { recursive: true, mode: 0o755 });
  const inDir = join(dirs.work, 'in');
  await writeInputs(inDir, planned.plan, planned.parsed.lines.services);
  // Under userns-remap the build's root is not the host's: it can read its own inputs (the root
  // password is 0600) only when they are its. They stay read-only to it (the mount is).
  if (deps.sandboxRoot) await chownTree(dirs.work, deps.sandboxRoot.uid, deps.sandboxRoot.gid);

  // Both mirrors decide what a cached root file system holds: a build from other mirrors gets its own.
  const mirrors = `${config.IMG_DEBIAN_MIRROR ?? ''} ${config.IMG_DEBIAN_SECURITY_MIRROR ?? ''}`;
  const cached = deps.cache ? await deps.cache.plan(planned.plan, planned.include, deps.builderVersion, mirrors, { prepared: opts.prepared ?? false }) : undefined;
  // A rebuild installs its packages again from scratch (from the package cache): an installed root
  // or a base taken from an earlier build would only show that a tar of it unpacks the same.
  const cachePlan = cached && msg.rebuild ? { ...cached, rootfsHit: undefined, base: undefined } : cached;
  if (cachePlan && !cachePlan.shareable) jobLog.write('IMG: cache: this kickstart adds its own repositories, so nothing this build downloads or installs is kept for other builds\n');
  if (cachePlan?.shareable) deps.metrics?.cache('rootfs', Boolean(cachePlan.rootfsHit));
  if (cachePlan?.rootfsHit) jobLog.write(`IMG: cache: installed root file system ${cachePlan.rootfsKey.slice(0, 12)} of an earlier build with the same packages and repositories is used\n`);
  else if (cachePlan?.base) {
    const { key, include } = cachePlan.base;
    jobLog.write(`IMG: cache: starting from the prepared root file system ${key.slice(0, 12)}, which holds ${include.length} of this build's ${new Set(planned.include).size} packages (${include.join(' ') || 'the essential ones only'}): apt installs the rest\n`);
  }

  const diskBytes = config.IMG_BUILD_DISK_MB * 1048576;
  // The image is read with a byte limit of the size it was declared to be: a disk is its root
  // partition (`part / --size`) plus a boot partition and alignment (2 × kernel and initramfs + 16
  // MiB, within the 1 GiB allowed here); any other image fits the work area it was made in.
  const imageBytes = planned.env.IMG_ROOT_SIZE_MIB ? (Number(planned.env.IMG_ROOT_SIZE_MIB) + 1024) * 1048576 : diskBytes;
  let sandbox: RunningSandbox | undefined;
  let lastPhase: Phase = 'queued';
  // What the host does inside the running container, one thing at a time.
  let offer: Promise<void> | undefined;
  let collected: Promise<{ image: TakenFile; packagesTsv: TakenFile | undefined; disk?: ReadBack }> | undefined;
  // Disks and ISOs come out as a .zst, compressed by the sandbox.
  const zst = ZSTD_TYPES.includes(msg.imagetype);

  // The offer is read while the %post and the assembly run: kept only if it is what the script sealed.
  const takeOffer = (s: RunningSandbox, plan: CachePlan, cache: BuildCache, sealedSum: string | undefined) => (async () => {
    const dir = await cache.offerDir(msg.id);
    try {
      const rules: OutputRule[] = [
        { match: (n) => n.startsWith('debs/') && DEB_NAME.test(n.slice(5)), maxBytes: MAX_DEB_BYTES },
        { match: (n) => n === 'rootfs.tar', maxBytes: diskBytes },
        { match: (n) => n === 'packages', maxBytes: MAX_PACKAGES_BYTES },
        { match: (n) => n === OFFER_SUMS, maxBytes: MAX_OFFER_SUMS_BYTES },
      ];
      // Offered files land in the offer's own folders: debs/NAME and rootfs.tar.
      const files = await readTar(s, ['tar', '-C', '/work/out/.cache-export', '--numeric-owner', '-cf', '-', '.'],
        { destDir: dir, rules, dirs: ['debs'], others: 'skip', where: '/out/.cache-export' });
      const sums = join(dir, OFFER_SUMS);
      const unsealed = offerUnsealed(files, await readFile(sums, 'utf8').catch(() => undefined), sealedSum);
      if (unsealed) throw new Error(`it is not what was sealed before the %post: ${unsealed}`);
      await rm(sums);
      const got = await cache.admit(dir, plan.rootfsKey, msg.id, plan.record);
      jobLog.write(`IMG: cache: kept ${got.debs} new packages (${Math.round(got.debBytes / 1048576)} MiB)${got.rootfs ? ` and the installed root file system ${plan.rootfsKey.slice(0, 12)}` : ''}\n`);
      log.info({ debs: got.debs, debBytes: got.debBytes, rootfs: got.rootfs }, 'build cache: offer taken');
    } catch (err) {
      jobLog.write(`IMG: cache: this build's offer is not kept: ${(err as Error).message}\n`);
      log.warn({ err: (err as Error).message }, 'build cache: could not take the offer');
      await rm(dir, { recursive: true, force: true });
    } finally {
      // The script waits for this before its output is taken: the offer is gone, taken or not.
      await run(s, ['rm', '-rf', '/work/out/.cache-export'])
        .then(() => run(s, ['touch', '/work/.img-offer-taken']))
        .catch((err: Error & { exitCode?: number }) => {
          // A prepared base's script exits as soon as it sees the file (see collect).
          if (err.exitCode !== 137) log.warn({ err: err.message }, 'could not tell the build its offer was taken');
        });
    }
  })();

  const collect = (s: RunningSandbox) => (async () => {
    try {
      // What a .zst holds is counted and hashed by the host as it is taken out, bounded as the image
      // itself is; the disk is written out only for a boot check.
      const needDisk = Boolean(planned.kind.boot) && config.IMG_VERIFY_BOOT;
      let readBack: ZstdReadBack | undefined;
      const files = await readTar(s, ['tar', '-C', '/work/out', '--numeric-owner', '-cf', '-', '.'], {
        destDir: dirs.imageDir,
        rules: [
          {
            match: (n) => IMAGE_NAME.test(n),
            rename: (n) => (n.endsWith('.zst') ? `${filename}.zst` : filename),
            maxBytes: imageBytes,
            sink: async (n) => {
              if (!zst || !n.endsWith('.zst')) return undefined;
              readBack = await ZstdReadBack.start({ maxBytes: imageBytes, where: `/out/${n}`, ...(needDisk ? { disk: join(dirs.imageDir, filename) } : {}) });
              return readBack;
            },
          },
          { match: (n) => n === PACKAGES_TSV, rename: () => PACKAGES_TSV, maxBytes: MAX_PACKAGES_TSV_BYTES },
        ],
        where: '/out',
      });
      const image = files.find((f) => f.name !== PACKAGES_TSV);
      if (!image) throw new BuildFailure('build_output_invalid', 'the build finished but left no image in /out', { phase: 'assembling' });
      if (zst && !image.name.endsWith('.zst')) {
        throw new BuildFailure('build_output_invalid', `the build left /out/${image.name}, where the builder leaves a ${msg.imagetype} image compressed with zstd (a name ending in .zst)`, { phase: 'assembling' });
      }
      await run(s, ['touch', '/work/.img-collected']).catch((err: Error & { exitCode?: number }) => {
        // The script exits as soon as it sees the file, and the engine then kills what still runs in
        // the container: this touch too, between making the file and exiting (137). The script's own
        // exit code, 0 only once it saw the file, is checked when the container has ended.
        if (err.exitCode === 137) return;
        throw err;
      });
      const packagesTsv = files.find((f) => f.name === PACKAGES_TSV);
      if (!readBack) return { image, packagesTsv };
      const disk = readBack.result();
      jobLog.write(`IMG: the image is ${disk.size} bytes, sha256 ${disk.sha256}: unpacked and counted by the host as it was taken out, in ${disk.seconds.toFixed(1)} s\n`);
      return { image, packagesTsv, disk };
    } catch (err) {
      s.kill();
      // Whatever went wrong while the host read what the build left (a stream cut short, a command of
      // ours that a leftover process got in the way of) is the build's doing, and is not retried; only
      // the engine refusing to run the command at all is the infrastructure's.
      if (err instanceof ImgError || (err as { engine?: boolean }).engine) throw err;
      throw new BuildFailure('build_output_invalid', `the build's output could not be read: ${(err as Error).message}`, { phase: 'assembling' });
    }
  })();

  const scan = new LogScanner({
    onPhase: (phase) => {
      lastPhase = phase;
      onPhase(phase);
    },
    onCacheExport: (sum) => {
      if (!sandbox || !deps.cache || !cachePlan?.shareable) return;
      offer = takeOffer(sandbox, cachePlan, deps.cache, sum);
    },
    onStart: (start) => opts.onStart?.(start),
    onBaseStale: () => {
      const base = cachePlan?.base ?? (cachePlan?.rootfsHit ? { key: cachePlan.rootfsKey } : undefined);
      if (!base || !deps.cache) return;
      jobLog.write(`IMG: cache: the root file system ${base.key.slice(0, 12)} is older than the package lists: it is dropped\n`);
      void deps.cache.drop(base.key).catch((err: Error) => log.warn({ err: err.message }, 'build cache: could not drop a stale root file system'));
    },
    onDone: () => {
      if (!sandbox) return;
      collected = collect(sandbox);
      collected.catch(() => {});
    },
  });

  const started = Date.now();
  const cancelled = deps.cancellations.start(msg.id);
  // A previous attempt's container (the process that ran it was killed, on this host or another
  // that shares the engine) must not go on.
  await deps.runner.removeJobContainers(msg.id);
  let result: SandboxResult;
  try {
    result = await deps.runner.run({
      jobId: msg.id,
      image: deps.builderImage,
      cmd: ['/opt/img/build-in-sandbox.sh'],
      env: {
        IMG_IMAGETYPE: msg.imagetype,
        IMG_SUITE: planned.plan.suite,
        IMG_INCLUDE: planned.include.join(','),
        IMG_EXCLUDE: planned.plan.packages.exclude.join(','),
        IMG_HOSTNAME: planned.plan.hostname ?? '',
        IMG_TIMEZONE: planned.plan.timezone?.zone ?? '',
        IMG_DEBIAN_MIRROR: config.IMG_DEBIAN_MIRROR ?? '',
        IMG_DEBIAN_SECURITY_MIRROR: config.IMG_DEBIAN_SECURITY_MIRROR ?? '',
        IMG_APT_CHECK_VALID_UNTIL: String(config.IMG_APT_CHECK_VALID_UNTIL),
        IMG_ARCH: planned.plan.architecture,
        IMG_BUILDER_VERSION: deps.builderVersion,
        // Reproducible images: file system UUIDs, hash seeds and volume ids are derived from it.
        IMG_REQUEST_HASH: planned.hash,
        ...planned.env,
        ...kickstartEnv(planned.plan, filename.replace(/\.[^.]*(\.zst)?$/, '')),
        ...cacheEnv(cachePlan),
        ...(opts.prepareOnly ? { IMG_PREPARE_ONLY: '1' } : {}),
      },
      mounts: [
        { host: inDir, container: '/in', readOnly: true },
        ...(cachePlan?.debDir ? [{ host: cachePlan.debDir, container: '/cache/debs', readOnly: true }] : []),
        ...(cachePlan?.rootfsHit ? [{ host: cachePlan.rootfsHit, container: '/cache/rootfs.tar', readOnly: true }] : []),
        ...(cachePlan?.base && !cachePlan.rootfsHit ? [{ host: cachePlan.base.file, container: '/cache/base.tar', readOnly: true }] : []),
      ],
      workAreaMb: config.IMG_BUILD_DISK_MB,
      workAreaInodes: config.IMG_BUILD_INODES,
      // The hard limit must hold the work area's tmpfs pages too; process memory is held apart.
      memoryBytes: (config.IMG_BUILD_MEMORY_MB + config.IMG_BUILD_DISK_MB) * 1048576,
      processMemoryBytes: config.IMG_BUILD_MEMORY_MB * 1048576,
      nanoCpus: Math.round(config.IMG_BUILD_CPUS * 1e9),
      pidsLimit: config.IMG_BUILD_PIDS,
      timeoutMs: config.IMG_BUILD_TIMEOUT_S * 1000,
      rootfsDevices: true,
      onStart: (s) => { sandbox = s; },
    }, (chunk) => {
      jobLog.output(chunk);
      scan.push(chunk);
    }, cancelled);
  } finally {
    deps.cancellations.finish(msg.id);
  }
  scan.end();
  await offer;
  const image = await collected?.then((f) => ({ f }), (err: unknown) => ({ err }));
  const sandboxS = (Date.now() - started) / 1000;
  if (deps.cache) void deps.cache.prune().catch((err: Error) => log.warn({ err: err.message }, 'build cache: prune failed'));

  if (cancelled.aborted) {
    await rm(dirs.imageDir, { recursive: true, force: true });
    return { cancelled: true };
  }
  // The build's own failure, in the words its log gives; nothing of its output is kept.
  const failedBuild = async () => {
    await rm(dirs.imageDir, { recursive: true, force: true });
    const c = classifyFailure(result, scan, lastPhase, {
      timeoutS: config.IMG_BUILD_TIMEOUT_S, memoryMb: config.IMG_BUILD_MEMORY_MB, pids: config.IMG_BUILD_PIDS, diskMb: config.IMG_BUILD_DISK_MB, inodes: config.IMG_BUILD_INODES,
    }, { suite: planned.plan.suite, arch: planned.plan.architecture });
    return new BuildFailure(c.code, c.message, { phase: c.phase, excerpt: c.excerpt, line: c.line });
  };
  // A build over its time limit is that, whatever its output was when it was stopped.
  if (result.timedOut) {
    throw await failedBuild();
  }
  // What the build left in /out is judged next: refusing it is what stopped the container.
  if (image && 'err' in image) {
    await rm(dirs.imageDir, { recursive: true, force: true });
    const err = image.err;
    if (err instanceof BuildFailure) throw err;
    if (err instanceof ImgError && !err.transient) throw new BuildFailure(err.code, err.message, { phase: 'assembling', excerpt: scan.tail(10) });
    throw err;
  }
  const start = scan.start ?? 'scratch';
  // A prepared root: the script stopped after its offer, which was taken (or refused) above.
  if (opts.prepareOnly && result.exitCode === 0 && !image && !result.timedOut) return { cancelled: false, prepared: true, sandboxS, start };
  if (result.exitCode !== 0 || !scan.done || scan.processLimitLines.length > 0 || result.processMemoryExceeded !== undefined) {
    throw await failedBuild();
  }
  if (!image) throw new BuildFailure('build_output_invalid', 'the build finished but left no image in /out', { phase: 'assembling' });
  return { cancelled: false, image: image.f.image, packagesTsv: image.f.packagesTsv, sandboxS, skipped: scan.skippedPackages, start, ...(image.f.disk ? { disk: image.f.disk } : {}) };
}

/** Hands a tree the host just wrote (no link in it) to another owner, by lchown: nothing is followed. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await lchown(p, uid, gid);
  }
}

/** Runs a command of the builder image in the container and reads its standard output as the tar of a build's output. */
async function readTar(s: RunningSandbox, cmd: string[], o: Parameters<typeof takeFiles>[1]): Promise<TakenFile[]> {
  const { stdout, exited } = await engineExec(s, cmd);
  const files = await takeFiles(stdout, o);
  const { exitCode, stderr } = await exited;
  if (exitCode !== 0) {
    throw new BuildFailure('build_output_invalid', `the build's output could not be read whole (tar exited ${exitCode}: ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}); something changed it while it was read`, { phase: 'assembling' });
  }
  return files;
}

/** Starts a command in the container; an engine that cannot is an infrastructure failure (retried). */
async function engineExec(s: RunningSandbox, cmd: string[]) {
  try {
    return await s.exec(cmd);
  } catch (err) {
    throw Object.assign(new Error(`the Docker engine could not run ${cmd[0]} in the build's container: ${(err as Error).message}`), { engine: true });
  }
}

/** Runs a short command of the builder image in the container and waits for it. */
async function run(s: RunningSandbox, cmd: string[]): Promise<void> {
  const { stdout, exited } = await engineExec(s, cmd);
  stdout.resume();
  const { exitCode, stderr } = await exited;
  if (exitCode !== 0) throw Object.assign(new Error(`${cmd[0]} in the sandbox exited ${exitCode}: ${stderr.slice(0, 300)}`), { exitCode });
}

/** What the sandbox script is told of the caches; the paths are where the runner mounts them. */
function cacheEnv(plan: CachePlan | undefined): Record<string, string> {
  if (!plan) return {};
  return {
    ...(plan.debDir ? { IMG_DEB_CACHE: '/cache/debs' } : {}),
    ...(plan.rootfsHit ? { IMG_ROOTFS_CACHED: '/cache/rootfs.tar' } : {}),
    ...(plan.base && !plan.rootfsHit ? { IMG_ROOTFS_BASE: '/cache/base.tar', IMG_ROOTFS_MIN_ADDED: String(plan.base.minAdded) } : {}),
    ...(plan.shareable ? { IMG_CACHE_EXPORT: '1' } : {}),
    ...(plan.exportRootfs ? { IMG_ROOTFS_EXPORT: '1' } : {}),
  };
}
