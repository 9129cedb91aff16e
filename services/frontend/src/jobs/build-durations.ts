// How long a build of a given kind takes, learned from the recent builds of that kind. A build's
// time depends on its image type (a live ISO squashes its root, a disk is partitioned and booted),
// its architecture (arm64 runs its programs under emulation), how it starts (from nothing, a prepared
// base, a cached root) and whether it is boot-checked. Answers from an identical earlier request take
// no build at all and are left out, so they never drag the others' times down.
import type { BuildStart } from '@img/shared/contracts';
import type { JobSummary } from './job-summary.ts';

export interface BuildKind {
  type: string;
  arch: string;
  /**
   * Unknown until image-creator says; then the kind's builds that started the same way count.
   * 'fresh': not from a cached root (a package set no build installed yet), so from scratch or a base.
   */
  start?: BuildStart | 'fresh';
  /** Whether the image is boot-checked; unknown: builds of the type either way count. */
  boot?: boolean;
}

export interface Typical {
  seconds: number;
  /** Which builds it came from, for the page and the API ("raw/amd64/cached/boot, 7 builds"). */
  basis: string;
}

/** Builds of each kind that count: the most recent ones. */
const RECENT = 20;

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const archOf = (j: Pick<JobSummary, 'arch'>) => j.arch ?? 'amd64';

/** A finished build whose time says something about building: done, built here, not answered from an identical one. */
export function countsAsBuild(j: JobSummary): boolean {
  return j.status === 'done' && j.duration_s !== undefined && j.duration_s >= 1 && j.start !== 'identical';
}

export class BuildDurations {
  private readonly byKey = new Map<string, number[]>();
  /** The latest boot decision seen for each type and architecture: what the next build of it will do. */
  private readonly bootOf = new Map<string, boolean>();

  /** `jobs` newest first; `starts`: how builds started where image-creator did not say (queue-estimate.ts). */
  constructor(jobs: Iterable<JobSummary>, starts: ReadonlyMap<string, BuildStart | 'fresh'> = new Map()) {
    for (const j of jobs) {
      if (!countsAsBuild(j)) continue;
      const start = j.start ?? starts.get(j.id);
      const arch = archOf(j);
      const boot = j.booted === true;
      const ta = `${j.type}|${arch}`;
      if (!this.bootOf.has(ta)) this.bootOf.set(ta, boot);
      const keys = [`${ta}|${boot}`, ta, `t|${j.type}`, `a|${arch}`, 'all'];
      if (start) keys.unshift(`${ta}|${boot}|${start}`);
      if (start === 'scratch' || start === 'base') keys.unshift(`${ta}|${boot}|fresh`);
      for (const k of keys) this.add(k, j.duration_s!);
    }
  }

  private add(key: string, s: number): void {
    const xs = this.byKey.get(key) ?? [];
    if (xs.length < RECENT) xs.push(s);
    this.byKey.set(key, xs);
  }

  private at(key: string): number[] {
    return this.byKey.get(key) ?? [];
  }

  /** Whether a build of this type and architecture is boot-checked, as the last one was; undefined before any. */
  bootFor(type: string, arch: string): boolean | undefined {
    return this.bootOf.get(`${type}|${arch}`);
  }

  /**
   * The median of the nearest kind that has history: the exact kind; then any start; then either boot
   * decision; then the type on the other architecture, scaled by how much slower or faster this
   * architecture builds the types both have built; then anything on this architecture; then anything.
   */
  typical(kind: BuildKind): Typical | undefined {
    const ta = `${kind.type}|${kind.arch}`;
    const boot = kind.boot ?? this.bootFor(kind.type, kind.arch);
    const tries: [string, string][] = [];
    if (boot !== undefined && kind.start) tries.push([`${ta}|${boot}|${kind.start}`, `${kind.type}/${kind.arch}/${kind.start}${boot ? '/boot' : ''}`]);
    if (boot !== undefined) tries.push([`${ta}|${boot}`, `${kind.type}/${kind.arch}${boot ? '/boot' : ''}`]);
    tries.push([ta, `${kind.type}/${kind.arch}`]);
    for (const [key, label] of tries) {
      const xs = this.at(key);
      if (xs.length) return { seconds: median(xs)!, basis: `${label}, ${xs.length} build${xs.length === 1 ? '' : 's'}` };
    }
    const scaled = this.otherArch(kind.type, kind.arch);
    if (scaled) return scaled;
    for (const [key, label] of [[`a|${kind.arch}`, `all types on ${kind.arch}`], ['all', 'all builds']] as const) {
      const xs = this.at(key);
      if (xs.length) return { seconds: median(xs)!, basis: `${label}, ${xs.length} build${xs.length === 1 ? '' : 's'}` };
    }
    return undefined;
  }

  /** The type's time on another architecture times the two architectures' ratio over the types both built. */
  private otherArch(type: string, arch: string): Typical | undefined {
    for (const other of this.archs()) {
      if (other === arch) continue;
      const there = median(this.at(`${type}|${other}`));
      if (there === undefined) continue;
      const ratios: number[] = [];
      for (const key of this.byKey.keys()) {
        const m = /^([^|]+)\|([^|]+)$/.exec(key);
        if (!m || m[2] !== arch || m[1] === 't' || m[1] === 'a') continue;
        const mine = median(this.at(key));
        const theirs = median(this.at(`${m[1]}|${other}`));
        if (mine !== undefined && theirs) ratios.push(mine / theirs);
      }
      const ratio = median(ratios);
      if (ratio !== undefined) return { seconds: there * ratio, basis: `${type}/${other} × ${ratio.toFixed(2)} (${arch}/${other} over ${ratios.length} type${ratios.length === 1 ? '' : 's'})` };
    }
    return undefined;
  }

  /** The median of all recent builds, whatever their kind. */
  overall(): number | undefined {
    return median(this.at('all'));
  }

  private archs(): string[] {
    return [...this.byKey.keys()].filter((k) => k.startsWith('a|')).map((k) => k.slice(2));
  }
}
