// image_queue → a build in the sandbox → link_queue or error_queue, with progress on result_queue.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage, imageMessage, linkMessage, resultMessage, type ImageMessage, type LinkMessage, type Phase } from '@img/shared/contracts';
import { routes, type Broker, type DeliveryInfo } from '@img/shared/broker';
import type { Logger } from '@img/shared/logging';
import { ImgError, TransientError, type ErrorCode } from '@img/shared/errors';
import { parseKickstart, resolveGroups, type BuildPlan, type GroupTable } from '@img/shared/kickstart';
import type { Config } from '../config.ts';
import type { DockerRunner } from '../docker-runner.ts';
import { LogScanner } from '../log-scanner.ts';
import { classifyFailure } from '../classify-failure.ts';
import { jobPaths } from '../paths.ts';

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
}

const builtTypes = new Set(['tar', 'fs']);
const extension: Record<string, string> = { tar: 'tar.zst', fs: 'tar.zst' };

export function buildHandler(deps: BuildDeps) {
  return async (msg: ImageMessage, info: DeliveryInfo): Promise<void> => {
    const log = deps.log.child({ jobId: msg.id, imagetype: msg.imagetype, attempt: info.attempt });
    const paths = jobPaths(deps.config.IMG_DATA_DIR, msg.id);
    const urls = {
      image: `${deps.config.IMG_PUBLIC_URL}/images/${msg.id}`,
      log: `${deps.config.IMG_PUBLIC_URL}/job/${msg.id}/log`,
    };

    // A redelivery after the image was finished (crash between finishing and acking): answer from the result.
    const previous = await readFile(paths.result, 'utf8').then((t) => JSON.parse(t) as LinkMessage, () => undefined);
    if (previous) {
      log.info('image already built, publishing its link again');
      await deps.broker.publish(routes.link, linkMessage, previous);
      return;
    }

    await mkdir(join(deps.config.IMG_DATA_DIR, 'logs'), { recursive: true });
    const logStream = createWriteStream(paths.log, { flags: info.attempt > 1 ? 'a' : 'w' });
    const write = (text: string) => logStream.write(text);
    const failJob = async (code: ErrorCode, message: string, phase: Phase, excerpt: string[], line?: number) => {
      write(`\nIMG FAILED MISERABLY IN CREATING THE IMAGE!\n${code}: ${message}\n`);
      await closeStream(logStream);
      log.info({ code, message }, 'build failed');
      await deps.broker.publish(routes.error, errorMessage, {
        id: msg.id, error: message, url: urls.log, email: msg.email, imagetype: msg.imagetype, code, phase, excerpt,
        ...(line ? { position: { line } } : {}),
      });
    };

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
      if (!builtTypes.has(msg.imagetype)) {
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

      await rm(paths.work, { recursive: true, force: true });
      await rm(paths.imageDir, { recursive: true, force: true });
      await mkdir(paths.imageDir, { recursive: true });
      const inDir = join(paths.work, 'in');
      await writeInputs(inDir, parsed.plan);

      let lastPhase: Phase = 'queued';
      const progress: Promise<void>[] = [];
      const scan = new LogScanner({
        onPhase: (phase) => {
          lastPhase = phase;
          log.debug({ phase }, 'phase');
          progress.push(deps.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: `logs/${msg.id}.log`, phase }).catch((err: Error) => {
            log.warn({ err: err.message }, 'could not publish progress');
          }));
        },
      });
      const started = Date.now();
      // A previous attempt's container (the process that ran it was killed) must not go on.
      await deps.runner.removeOrphans((jobId) => jobId !== msg.id);
      const result = await deps.runner.run({
        jobId: msg.id,
        image: deps.builderImage,
        cmd: ['/opt/img/build-in-sandbox.sh'],
        env: {
          IMG_IMAGETYPE: msg.imagetype,
          IMG_SUITE: parsed.plan.suite,
          IMG_INCLUDE: [...new Set(include)].join(','),
          IMG_EXCLUDE: parsed.plan.packages.exclude.join(','),
          IMG_HOSTNAME: parsed.plan.hostname ?? '',
          IMG_TIMEZONE: parsed.plan.timezone?.zone ?? '',
          IMG_DEBIAN_MIRROR: deps.config.IMG_DEBIAN_MIRROR ?? '',
        },
        mounts: [
          { host: inDir, container: '/in', readOnly: true },
          { host: paths.imageDir, container: '/out', readOnly: false },
        ],
        memoryBytes: deps.config.IMG_BUILD_MEMORY_MB * 1024 * 1024,
        nanoCpus: Math.round(deps.config.IMG_BUILD_CPUS * 1e9),
        pidsLimit: deps.config.IMG_BUILD_PIDS,
        timeoutMs: deps.config.IMG_BUILD_TIMEOUT_S * 1000,
      }, (chunk) => {
        write(chunk.toString('utf8'));
        scan.push(chunk);
      });
      scan.end();
      await Promise.all(progress);

      if (result.exitCode !== 0 || !scan.done) {
        const c = classifyFailure(result, scan, lastPhase, { timeoutS: deps.config.IMG_BUILD_TIMEOUT_S, memoryMb: deps.config.IMG_BUILD_MEMORY_MB });
        await rm(paths.imageDir, { recursive: true, force: true });
        await failJob(c.code, c.message, c.phase, c.excerpt, c.line);
        return;
      }

      const produced = (await readdir(paths.imageDir)).find((f) => f.startsWith('image.'));
      if (!produced) throw new ImgError('build_failed', 'the build finished but produced no image');
      const filename = `img-${msg.id.slice(0, 12)}-${msg.imagetype}.${extension[msg.imagetype] ?? 'img'}`;
      const finalPath = join(paths.imageDir, filename);
      await rename(join(paths.imageDir, produced), finalPath);
      const { size } = await stat(finalPath);
      const sha256 = await sha256File(finalPath);
      const duration_s = Math.round((Date.now() - started) / 100) / 10;
      write(`\nIMG built ${filename}: ${size} bytes, sha256 ${sha256}, ${duration_s} s\n`);
      await closeStream(logStream);
      const link: LinkMessage = {
        id: msg.id, url: urls.image, email: msg.email, imagetype: msg.imagetype, filename, size, sha256, duration_s, logurl: urls.log, version: 1,
      };
      await writeFile(paths.result, JSON.stringify(linkMessage.parse(link)));
      log.info({ size, duration_s }, 'image built');
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
    }
  };
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
