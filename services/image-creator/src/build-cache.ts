// The build caches shared by every build of this image-creator (and of any other that shares the
// data directory): the .deb files builds downloaded, and the installed root file system of each
// package selection. Both live on the host; builds see them read-only.
//
// Trust: a build offers what it downloaded and installed in /out/.cache-export before any of the
// kickstart's own code runs (the sandbox script waits until it is taken), and only when every
// package comes from the default Debian mirror, whose packages are signed. image-creator reads the
// offer out of the container as a tar stream into a directory of its own (sandbox-output.ts: only
// regular files with the names the script writes), once, before the post phase. A cached .deb is
// used only when its SHA256 is the one in the signed index (package-cache.sh), so a damaged or
// planted file is never installed.
import { createHash } from 'node:crypto';
import { lstat, mkdir, opendir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { aptSources, type BuildPlan } from '@img/shared/kickstart';

export interface BuildCacheOptions {
  dir: string;
  /** Keep .deb files between builds. */
  packages: boolean;
  /** How long an installed root file system is reused; 0: never. */
  rootfsHours: number;
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
}

export interface Admitted {
  debs: number;
  debBytes: number;
  rootfs: boolean;
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

  async plan(plan: BuildPlan, include: string[], builderVersion: string, mirror: string): Promise<CachePlan> {
    const shareable = plan.repos.every((r) => !r.baseurl);
    const rootfsKey = BuildCache.rootfsKey(plan, include, builderVersion, mirror);
    const out: CachePlan = { shareable, rootfsKey, exportRootfs: false };
    // An empty cache has nothing to give: the build need not ask apt what it could take.
    if (this.o.packages && await hasEntries(this.debDir)) out.debDir = this.debDir;
    if (!shareable || this.o.rootfsHours <= 0) return out;
    const file = join(this.rootfsDir, `${rootfsKey}.tar`);
    const st = await stat(file).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs < this.o.rootfsHours * 3_600_000) {
      out.rootfsHit = file;
      // Used now: the size limit removes the least recently used first (mtime stays: it is the age).
      await utimes(file, new Date(), st.mtime).catch(() => {});
    } else {
      out.exportRootfs = true;
    }
    return out;
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
  async admit(offerDir: string, key: string, jobId: string): Promise<Admitted> {
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
        await rename(rootfs, join(this.rootfsDir, `${key}.tar`));
        result.rootfs = true;
      }
    } finally {
      await rm(taken, { recursive: true, force: true });
    }
    return result;
  }

  /** Removes expired root file systems, then the least recently used files until the caches fit. */
  async prune(): Promise<{ removed: number; bytes: number }> {
    const files: Array<{ path: string; size: number; used: number }> = [];
    let removed = 0;
    for (const dir of [this.debDir, this.rootfsDir]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        const expired = dir === this.rootfsDir && Date.now() - st.mtimeMs >= this.o.rootfsHours * 3_600_000;
        if (expired) {
          await rm(path, { force: true });
          removed++;
          continue;
        }
        files.push({ path, size: st.size, used: Math.max(st.atimeMs, st.mtimeMs) });
      }
    }
    let bytes = files.reduce((n, f) => n + f.size, 0);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (bytes <= this.o.maxBytes) break;
      // A build that has the file open or mounted keeps reading it: removing only unlinks the name.
      await rm(f.path, { force: true });
      bytes -= f.size;
      removed++;
    }
    return { removed, bytes };
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
