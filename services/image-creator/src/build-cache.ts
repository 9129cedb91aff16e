// The build caches shared by every build of this image-creator (and of any other that shares the
// data directory): the .deb files builds downloaded, and the installed root file system of each
// package selection. Both live on the host; builds see them read-only.
//
// A root file system is also a base for other builds: one whose packages are a subset of a request's
// (same suite, architecture, repositories and install options) is unpacked and apt installs the rest
// (build-in-sandbox.sh, install_from_base). Each root has a small JSON record beside it, written by
// the host from its own plan and the offer's list of installed packages.
//
// Trust: a build offers what it downloaded and installed in /out/.cache-export before any of the
// kickstart's own code runs, and only when every package comes from the default Debian mirror, whose
// packages are signed. The script seals the offer before the post phase: a SHA256SUMS of its files,
// whose own sum it prints on the marker line. image-creator reads the offer out of the container as a
// tar stream into a directory of its own (sandbox-output.ts: only regular files with the names the
// script writes), once, while the %post runs, and keeps it only if what it read is what was sealed
// (offerUnsealed): a %post that changes a byte of it gets nothing into the cache. A cached .deb is
// used only when its SHA256 is the one in the signed index (package-cache.sh), so a damaged or
// planted file is never installed.
import { createHash } from 'node:crypto';
import { lstat, mkdir, opendir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { aptSources, type BuildPlan } from '@img/shared/kickstart';

export interface BuildCacheOptions {
  dir: string;
  /** Keep .deb files between builds. */
  packages: boolean;
  /** How long an installed root file system is reused; 0: never. */
  rootfsHours: number;
  /** A build that starts from a base offers its root only when apt installs at least this many packages on top (0: always). */
  rootfsMinAdded?: number;
  /** The caches together are kept under this size; the least recently used files go first. */
  maxBytes: number;
}

/** What a build gets from the caches. */
export interface CachePlan {
  /** Every repository is the default mirror: this build's downloads and root file system may be kept. */
  shareable: boolean;
  /** The key of this build's installed root file system. */
  rootfsKey: string;
  /** A cached root file system for exactly this selection, young enough to use. */
  rootfsHit?: string;
  debDir?: string;
  /** Export the root file system too (shareable, no hit, reuse enabled). */
  exportRootfs: boolean;
  /** With no exact hit: the cached root whose packages are the largest subset of this build's. */
  base?: { file: string; key: string; include: string[]; minAdded: number };
  /** What is recorded beside this build's root file system when it is kept. */
  record: RootRecord;
}

/** Beside each cached root file system: what it may be a base for. */
const rootRecord = z.object({
  /** The suite, architecture, mirrors, repositories, builder and install options (see family()). */
  family: z.string().regex(/^[0-9a-f]{32}$/),
  include: z.array(z.string()).max(10_000),
  /** Installed without exclusions or --ignoremissing: other requests may start from it. */
  base: z.boolean(),
  /** Every package installed in it (dpkg-query), from the build's offer. */
  installed: z.array(z.string()).max(20_000).default([]),
  /** Prepared ahead of demand by image-creator rather than left by a build. */
  prepared: z.boolean().optional(),
});
export type RootRecord = z.infer<typeof rootRecord>;
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{0,199}$/;
/** Largest list of installed packages an offer may carry. */
export const MAX_PACKAGES_BYTES = 1 << 20;

export interface Admitted {
  debs: number;
  debBytes: number;
  rootfs: boolean;
}

/** The offer's list of its files and their SHA-256 sums (sha256sum's format), made before any %post. */
export const OFFER_SUMS = 'SHA256SUMS';
export const MAX_OFFER_SUMS_BYTES = 1 << 20;

/**
 * Whether an offer read while the build's %post ran is the one the script sealed: its SHA256SUMS has
 * the sum the script printed before the post phase, and every other file read has the sum listed
 * there. Returns why not, or undefined. A listed file that was not read (a %post removed it) is only
 * not kept.
 */
export function offerUnsealed(files: ReadonlyArray<{ name: string; sha256: string }>, sumsText: string | undefined, printed: string | undefined): string | undefined {
  const list = files.find((f) => f.name === OFFER_SUMS);
  if (!printed || !/^[0-9a-f]{64}$/.test(printed)) return 'the build gave no sum for it';
  if (!list || sumsText === undefined) return `it has no ${OFFER_SUMS}`;
  if (list.sha256 !== printed) return `its ${OFFER_SUMS} is not the list the build sealed before its %post`;
  const listed = new Map<string, string>();
  for (const line of sumsText.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) return `its ${OFFER_SUMS} has a line that is not a sum and a name`;
    listed.set(m[2]!, m[1]!);
  }
  for (const f of files) {
    if (f.name === OFFER_SUMS) continue;
    if (!listed.has(f.name)) return `${f.name} was not in it when it was sealed`;
    if (listed.get(f.name) !== f.sha256) return `${f.name} changed after it was sealed`;
  }
  return undefined;
}

/** Names apt gives downloaded packages: name_version_arch.deb, with an epoch's colon as %3a. */
export const DEB_NAME = /^[a-z0-9][a-z0-9+.-]*_[A-Za-z0-9.+~%-]+_[a-z0-9-]+\.deb$/;
export const MAX_DEB_BYTES = 2 * 1024 ** 3;

export class BuildCache {
  readonly debDir: string;
  readonly rootfsDir: string;
  private readonly incoming: string;

  constructor(private readonly o: BuildCacheOptions) {
    this.debDir = join(o.dir, 'debs');
    this.rootfsDir = join(o.dir, 'rootfs');
    this.incoming = join(o.dir, 'incoming');
  }

  async init(): Promise<void> {
    await Promise.all([this.debDir, this.rootfsDir, this.incoming].map((d) => mkdir(d, { recursive: true })));
  }

  /**
   * The installed root file system depends on the builder, the suite and architecture, the mirrors,
   * the repositories, the package selection and how it was installed (%packages --excludedocs,
   * --ignoremissing); nothing else the kickstart says is applied before it is offered.
   */
  static rootfsKey(plan: BuildPlan, include: string[], builderVersion: string, mirror: string): string {
    // What the build installs from, not how the kickstart said it: no repo line and `repo --suite=trixie` are the same.
    const repos = aptSources(plan).sources.map((r) => `${r.uri} ${r.suites.join(',')} ${[...r.components].sort().join(',')}`).sort();
    const doc = {
      builder: builderVersion, mirror, suite: plan.suite, arch: plan.architecture, repos,
      include: [...new Set(include)].sort(), exclude: [...new Set(plan.packages.exclude)].sort(),
      // Without the documentation, or without what apt did not know: another root file system.
      ...(plan.packages.excludedocs ? { excludedocs: true } : {}), ...(plan.packages.ignoremissing ? { ignoremissing: true } : {}),
    };
    return createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 32);
  }

  /** What a root file system shares with every other that may be a base for it: all of the key but the packages. */
  static family(plan: BuildPlan, builderVersion: string, mirror: string): string {
    const { ignoremissing: _ignored, ...packages } = plan.packages;
    return BuildCache.rootfsKey({ ...plan, packages: { ...packages, include: [], exclude: [] } }, [], builderVersion, mirror);
  }

  async plan(plan: BuildPlan, include: string[], builderVersion: string, mirror: string, o: { prepared?: boolean } = {}): Promise<CachePlan> {
    const shareable = plan.repos.every((r) => !r.baseurl);
    const rootfsKey = BuildCache.rootfsKey(plan, include, builderVersion, mirror);
    const family = BuildCache.family(plan, builderVersion, mirror);
    const wanted = [...new Set(include)].sort();
    const record: RootRecord = {
      family, include: wanted, base: plan.packages.exclude.length === 0 && !plan.packages.ignoremissing, installed: [], ...(o.prepared ? { prepared: true } : {}),
    };
    const out: CachePlan = { shareable, rootfsKey, exportRootfs: false, record };
    // An empty cache has nothing to give: the build need not ask apt what it could take.
    if (this.o.packages && await hasEntries(this.debDir)) out.debDir = this.debDir;
    if (!shareable || this.o.rootfsHours <= 0) return out;
    const file = join(this.rootfsDir, `${rootfsKey}.tar`);
    const st = await stat(file).catch(() => undefined);
    // Offered whenever the build installs (a hit older than the lists makes it install from scratch).
    out.exportRootfs = true;
    if (st && Date.now() - st.mtimeMs < this.o.rootfsHours * 3_600_000) {
      out.rootfsHit = file;
      // Used now: the size limit removes the least recently used first (mtime stays: it is the age).
      await utimes(file, new Date(), st.mtime).catch(() => {});
    } else {
      // --ignoremissing leaves packages out by what apt knows at the time: only an exact hit is the same.
      if (!plan.packages.ignoremissing) {
        const base = await this.nearest(family, new Set(wanted), new Set(plan.packages.exclude));
        if (base) out.base = base;
      }
    }
    return out;
  }

  /**
   * The young root of the family whose packages are the largest subset of `wanted` and that holds
   * none of the `excluded` packages (starting from it would mean removing them: a smaller one, or
   * scratch, instead). A root installed with exclusions is never a base (it lacks what they removed).
   */
  async nearest(family: string, wanted: Set<string>, excluded: Set<string>): Promise<CachePlan['base']> {
    let best: { file: string; key: string; include: string[]; used: number } | undefined;
    for (const { key, record, tar } of await this.roots()) {
      if (record.family !== family || !record.base || !tar) continue;
      if (Date.now() - tar.mtimeMs >= this.o.rootfsHours * 3_600_000) continue;
      if (!record.include.every((p) => wanted.has(p)) || record.installed.some((p) => excluded.has(p))) continue;
      if (best && (record.include.length < best.include.length || (record.include.length === best.include.length && tar.mtimeMs <= best.used))) continue;
      best = { file: join(this.rootfsDir, `${key}.tar`), key, include: record.include, used: tar.mtimeMs };
    }
    if (!best) return undefined;
    await utimes(best.file, new Date(), new Date(best.used)).catch(() => {});
    return { file: best.file, key: best.key, include: best.include, minAdded: this.o.rootfsMinAdded ?? 0 };
  }

  /** Every cached root with its record (a root without a readable record is no base, and is listed without one). */
  async roots(): Promise<Array<{ key: string; record: RootRecord; tar?: { mtimeMs: number; size: number } }>> {
    const out: Array<{ key: string; record: RootRecord; tar?: { mtimeMs: number; size: number } }> = [];
    for (const name of await readdir(this.rootfsDir).catch(() => [] as string[])) {
      const m = /^([0-9a-f]{32})\.json$/.exec(name);
      if (!m) continue;
      const record = rootRecord.safeParse(await readFile(join(this.rootfsDir, name), 'utf8').then(JSON.parse).catch(() => undefined));
      if (!record.success) continue;
      const st = await stat(join(this.rootfsDir, `${m[1]}.tar`)).catch(() => undefined);
      out.push({ key: m[1]!, record: record.data, ...(st?.isFile() ? { tar: { mtimeMs: st.mtimeMs, size: st.size } } : {}) });
    }
    return out;
  }

  /** A root a build found older than the package lists: no build starts from it again. */
  async drop(key: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(key)) return;
    await rm(join(this.rootfsDir, `${key}.tar`), { force: true });
    await rm(join(this.rootfsDir, `${key}.json`), { force: true });
  }

  /** Drops every root of a family (its package lists changed); returns how many. */
  async dropFamily(family: string, keep?: string): Promise<number> {
    let n = 0;
    for (const { key, record } of await this.roots()) {
      if (record.family !== family || key === keep) continue;
      await this.drop(key);
      n++;
    }
    return n;
  }

  /** A new, empty directory of the host's for a build's offer to be written into, beside the cache. */
  async offerDir(jobId: string): Promise<string> {
    const dir = join(this.incoming, `${jobId}.offer`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await mkdir(join(dir, 'debs'));
    return dir;
  }

  /**
   * Takes a build's offer, read into `offerDir` (see offerDir): each file that looks like what the
   * script writes is moved into the cache (a rename: atomic, so a build reading the
   * cache sees a file whole or not at all).
   */
  async admit(offerDir: string, key: string, jobId: string, record?: RootRecord): Promise<Admitted> {
    const taken = join(this.incoming, jobId);
    await rm(taken, { recursive: true, force: true });
    await rename(offerDir, taken);
    const result: Admitted = { debs: 0, debBytes: 0, rootfs: false };
    try {
      if (this.o.packages) {
        const debs = join(taken, 'debs');
        for (const name of await readdir(debs).catch(() => [] as string[])) {
          const file = join(debs, name);
          const st = await lstat(file);
          if (!DEB_NAME.test(name) || !st.isFile() || st.size === 0 || st.size > MAX_DEB_BYTES) continue;
          await rename(file, join(this.debDir, name));
          result.debs++;
          result.debBytes += st.size;
        }
      }
      const rootfs = join(taken, 'rootfs.tar');
      const st = await lstat(rootfs).catch(() => undefined);
      if (this.o.rootfsHours > 0 && st?.isFile() && st.size > 0) {
        // The record first: a root without one is used only for an exact hit, never as a base.
        if (record) {
          const installed = await readInstalled(join(taken, 'packages'));
          await writeFile(join(this.rootfsDir, `${key}.json.tmp`), JSON.stringify({ ...record, installed }));
          await rename(join(this.rootfsDir, `${key}.json.tmp`), join(this.rootfsDir, `${key}.json`));
        }
        await rename(rootfs, join(this.rootfsDir, `${key}.tar`));
        result.rootfs = true;
      }
    } finally {
      await rm(taken, { recursive: true, force: true });
    }
    return result;
  }

  /** Removes expired root file systems, then the least recently used files until the caches fit. */
  async prune(): Promise<{ removed: number; bytes: number; rootfsBytes: number }> {
    const files: Array<{ path: string; size: number; used: number }> = [];
    let removed = 0;
    for (const dir of [this.debDir, this.rootfsDir]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        // A record goes with its root file system (below); one left without it goes now.
        if (dir === this.rootfsDir && name.endsWith('.json')) {
          if (!(await stat(path.replace(/\.json$/, '.tar')).catch(() => undefined))) await rm(path, { force: true });
          continue;
        }
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        const expired = dir === this.rootfsDir && Date.now() - st.mtimeMs >= this.o.rootfsHours * 3_600_000;
        if (expired) {
          await rm(path, { force: true });
          await rm(path.replace(/\.tar$/, '.json'), { force: true });
          removed++;
          continue;
        }
        files.push({ path, size: st.size, used: Math.max(st.atimeMs, st.mtimeMs) });
      }
    }
    let bytes = files.reduce((n, f) => n + f.size, 0);
    const kept = new Set(files);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (bytes <= this.o.maxBytes) break;
      kept.delete(f);
      // A build that has the file open or mounted keeps reading it: removing only unlinks the name.
      await rm(f.path, { force: true });
      if (f.path.endsWith('.tar')) await rm(f.path.replace(/\.tar$/, '.json'), { force: true });
      bytes -= f.size;
      removed++;
    }
    // What the prepared and recent roots take, for the log and the note in the README.
    const rootfsBytes = [...kept].filter((f) => f.path.startsWith(this.rootfsDir)).reduce((n, f) => n + f.size, 0);
    return { removed, bytes, rootfsBytes };
  }
}

async function hasEntries(dir: string): Promise<boolean> {
  const d = await opendir(dir).catch(() => undefined);
  if (!d) return false;
  try {
    return (await d.read()) !== null;
  } finally {
    await d.close().catch(() => {});
  }
}

/** The offer's list of installed packages: names only, bounded; anything else in it is dropped. */
async function readInstalled(file: string): Promise<string[]> {
  const st = await lstat(file).catch(() => undefined);
  if (!st?.isFile() || st.size > MAX_PACKAGES_BYTES) return [];
  const names = (await readFile(file, 'utf8')).split('\n').filter((l) => PACKAGE_NAME.test(l));
  return [...new Set(names)].sort().slice(0, 20_000);
}
