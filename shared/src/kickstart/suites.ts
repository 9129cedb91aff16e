// The Debian suites IMG builds, in one table: what each release is, whether it has updates and
// security suites, and how its apt sources are written. Everything that knows about suites asks here.
// A request's other build axis (the architecture) is meant to get a table of its own beside this one.

export interface Suite {
  name: string;
  /** Debian's name for its place in the release cycle. */
  status: 'stable' | 'oldstable' | 'testing' | 'unstable';
  /** The release number /etc/os-release carries (absent: testing and sid have none). */
  version?: string;
  /** Stable and oldstable have `<suite>-updates` and `<suite>-security`; testing and sid do not. */
  updates: boolean;
  /** How the release's installer writes its apt sources: deb822 `debian.sources` from trixie on. */
  sourcesFormat: 'deb822' | 'one-line';
}

export const SUITES: readonly Suite[] = [
  { name: 'trixie', status: 'stable', version: '13', updates: true, sourcesFormat: 'deb822' },
  { name: 'bookworm', status: 'oldstable', version: '12', updates: true, sourcesFormat: 'one-line' },
  { name: 'forky', status: 'testing', updates: false, sourcesFormat: 'deb822' },
  { name: 'sid', status: 'unstable', updates: false, sourcesFormat: 'deb822' },
];

/** The default of IMG_DEFAULT_SUITE: the current stable release. The services' settings start from it. */
export const DEFAULT_SUITE = 'trixie';

export const SUITE_NAMES: readonly string[] = SUITES.map((s) => s.name);

export function findSuite(name: string): Suite | undefined {
  return SUITES.find((s) => s.name === name);
}

/** "trixie (stable), bookworm (oldstable), forky (testing), sid (unstable)": for errors and the form. */
export function offeredSuites(): string {
  return SUITES.map((s) => `${s.name} (${s.status})`).join(', ');
}

/** The error for a suite IMG does not build, naming what it does. */
export function unknownSuiteMessage(name: string): string {
  return `unknown suite '${name.slice(0, 40)}'; IMG builds ${offeredSuites()}`;
}

/** Suffixes of the Debian archive's own side suites, which belong to their release. */
const SIDE_SUITES = ['-updates', '-security', '-backports', '-proposed-updates'] as const;

/**
 * The release a Debian repository suite belongs to: `trixie-backports` → trixie. Undefined for a
 * name that is no Debian release IMG knows (a third-party repository's `stable`, say).
 */
export function releaseOf(suite: string): string | undefined {
  const side = SIDE_SUITES.find((s) => suite.endsWith(s));
  const base = side ? suite.slice(0, -side.length) : suite;
  return findSuite(base)?.name;
}
