// Bases prepared ahead of demand: for each SUITE:ARCH of IMG_PREPARED_BASES, the root file system every
// bootable build of it shares (the minimal system with the kernel, the init and zstd that a minimal
// `raw` gets), installed in a sandbox like a build and offered to the cache. A build whose packages
// include these then starts from it and apt installs only the rest (build-in-sandbox.sh).
// It runs in the background at start and again when the package index refresher reads the suite's
// lists; one preparation at a time, never in a build's way (a build that finds no base starts from
// scratch). A base still current is not installed again: the sandbox sees its packages are the ones
// the lists offer and stops.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseKickstart } from '@img/shared/kickstart';
import type { IndexUnit } from '@img/shared/packages';
import { imageKinds, prepareBuild } from '../image-types.ts';
import { JobLog } from './job-log.ts';
import type { PlannedBuild } from './plan.ts';
import { prepareRoot, type SandboxStepDeps } from './sandbox-run.ts';

export interface BaseTarget { suite: string; arch: string }

export interface BasePreparerDeps extends SandboxStepDeps {
  targets: readonly BaseTarget[];
  /** Scratch space for the preparations' inputs and logs. */
  workDir: string;
}

/** The planned build of a base: what a minimal bootable disk of the suite and architecture installs. */
export function basePlan(t: BaseTarget): PlannedBuild {
  const parsed = parseKickstart('part / --size=1024\n', { defaultSuite: t.suite, arch: t.arch });
  if (!parsed.plan) throw new Error(`no plan for ${t.suite}:${t.arch}: ${parsed.errors.map((e) => e.message).join('; ')}`);
  const prepared = prepareBuild(parsed.plan, 'raw', []);
  return { plan: parsed.plan, parsed, kind: imageKinds.tar, include: prepared.include, env: {}, notes: [], hash: '' };
}

export class BasePreparer {
  private readonly pending: BaseTarget[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: BasePreparerDeps) {}

  /** Prepares every target, in the background. */
  start(): void {
    for (const t of this.deps.targets) this.kick(t);
  }

  /** The package index refresher read these lists: the bases of their suites are prepared again. */
  listsRead(units: readonly IndexUnit[]): void {
    for (const t of this.deps.targets) {
      if (units.some((u) => u.architecture === t.arch && (u.suite === t.suite || u.suite.startsWith(`${t.suite}-`)))) this.kick(t);
    }
  }

  /** No new preparation; one in progress ends when its container is removed with the other orphans. */
  stop(): void {
    this.stopped = true;
    this.pending.length = 0;
  }

  private kick(t: BaseTarget): void {
    if (this.stopped || this.pending.some((p) => p.suite === t.suite && p.arch === t.arch)) return;
    this.pending.push(t);
    if (!this.running) {
      this.running = this.drain().finally(() => { this.running = undefined; });
    }
  }

  private async drain(): Promise<void> {
    for (let t = this.pending.shift(); t && !this.stopped; t = this.pending.shift()) {
      await this.prepare(t).catch((err: Error) => this.deps.log.warn({ suite: t!.suite, arch: t!.arch, err: err.message }, 'prepared base: could not be prepared; builds start from scratch or another root'));
    }
  }

  private async prepare(t: BaseTarget): Promise<void> {
    const { log } = this.deps;
    const id = `prepare-${t.suite}-${t.arch}`;
    const dir = join(this.deps.workDir, id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const logFile = join(dir, '..', `${id}.log`);
    const jobLog = new JobLog(logFile, false, 16);
    const started = Date.now();
    log.info({ suite: t.suite, arch: t.arch }, 'prepared base: preparing');
    try {
      const out = await prepareRoot(this.deps, id, basePlan(t), { imageDir: join(dir, 'out'), work: join(dir, 'work') }, jobLog);
      await jobLog.close();
      if (out.cancelled) return;
      const pruned = await this.deps.cache?.prune();
      log.info({ suite: t.suite, arch: t.arch, start: out.start, seconds: Math.round((Date.now() - started) / 100) / 10, rootfsMiB: pruned ? Math.round(pruned.rootfsBytes / 1048576) : undefined },
        out.start === 'cached' ? 'prepared base: still current' : 'prepared base: ready');
    } catch (err) {
      await jobLog.close();
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new Error(`${(err as Error).message}\n${tail}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** IMG_PREPARED_BASES: "SUITE:ARCH" items, comma-separated; "none": none; empty: the default suite for amd64. */
export function parseBaseTargets(spec: string, defaultSuite: string, known: { suite: (s: string) => boolean; arch: (a: string) => boolean }): BaseTarget[] | string {
  if (spec.trim() === 'none') return [];
  const items = spec.trim() ? spec.split(',').map((i) => i.trim()).filter(Boolean) : [`${defaultSuite}:amd64`];
  const out: BaseTarget[] = [];
  for (const item of items) {
    const [suite = '', arch = ''] = item.split(':');
    if (!known.suite(suite) || !known.arch(arch)) return `'${item}' is not SUITE:ARCH of a suite and an architecture IMG builds`;
    if (!out.some((o) => o.suite === suite && o.arch === arch)) out.push({ suite, arch });
  }
  return out;
}
