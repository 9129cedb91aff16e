// What a build plan installs from, as the units its package index is kept in: one suite, one component,
// one architecture (trixie/main/amd64, trixie-security/main/amd64, …). A build of trixie reads trixie,
// trixie-updates and trixie-security, so its check reads the same three; the units come from the same
// list of apt sources the build uses (kickstart/apt-sources.ts), so the two cannot disagree.
import { aptSources, ARCH_NAMES, type BuildPlan } from '../kickstart/index.ts';

export interface IndexUnit {
  suite: string;
  component: string;
  architecture: string;
}

/** The architectures IMG reads package lists for: those it builds. */
export const INDEX_ARCHITECTURES: readonly string[] = ARCH_NAMES;

export function unitKey(u: IndexUnit): string {
  return `${u.suite}/${u.component}/${u.architecture}`;
}

export function parseUnitKey(key: string): IndexUnit | undefined {
  const m = /^([a-z0-9][a-z0-9.+_-]*)\/([a-z0-9][a-z0-9.+_-]*)\/([a-z0-9]+)$/.exec(key);
  return m ? { suite: m[1] as string, component: m[2] as string, architecture: m[3] as string } : undefined;
}

/** Where a unit's list comes from: the security suites from the security archive, the rest from Debian's mirror. */
export function unitMirror(u: IndexUnit): '@DEFAULT_MIRROR@' | '@SECURITY_MIRROR@' {
  return u.suite.endsWith('-security') ? '@SECURITY_MIRROR@' : '@DEFAULT_MIRROR@';
}

/** apt source lines that read these units (one architecture's): a suite's components on one line. */
export function sourcesOf(units: readonly IndexUnit[]): string {
  const bySuite = new Map<string, string[]>();
  for (const u of units) bySuite.set(u.suite, [...new Set([...(bySuite.get(u.suite) ?? []), u.component])]);
  return [...bySuite].map(([suite, components]) => `deb ${unitMirror({ suite, component: '', architecture: '' })} ${suite} ${components.join(' ')}`).join('\n');
}

export type PlanUnits =
  | { units: IndexUnit[]; described: string }
  | { skipped: string };

/**
 * The units a plan's packages come from, and how to name them in a message ("Debian trixie
 * (trixie, trixie-updates, trixie-security; main) for amd64"). A plan with a repository of its own is
 * not checked: IMG does not read other people's repositories before a build, and their packages may
 * be the ones it names.
 */
export function unitsForPlan(plan: BuildPlan): PlanUnits {
  const own = plan.repos.find((r) => r.baseurl !== undefined);
  if (own) return { skipped: `the kickstart adds a repository of its own (repo --name=${own.name}), whose packages IMG does not read before the build` };
  const sources = aptSources(plan).sources;
  const units: IndexUnit[] = [];
  const suites: string[] = [];
  const components = new Set<string>();
  for (const s of sources) {
    for (const suite of s.suites) {
      if (!suites.includes(suite)) suites.push(suite);
      for (const component of s.components) {
        components.add(component);
        if (!units.some((u) => u.suite === suite && u.component === component)) units.push({ suite, component, architecture: plan.architecture });
      }
    }
  }
  return { units, described: `Debian ${plan.suite} (${suites.join(', ')}; ${[...components].join(', ')}) for ${plan.architecture}` };
}

/**
 * The units of IMG_PACKAGE_INDEX_PRELOAD: "SUITE:ARCH" items, comma-separated, each meaning what a
 * kickstart without repo lines builds from (the suite with its updates and security suites, main);
 * "none" for nothing. Unknown suites or architectures are errors for the config to report.
 */
export function preloadUnits(spec: string, plan: (suite: string, arch: string) => BuildPlan): IndexUnit[] | string {
  const units: IndexUnit[] = [];
  if (spec.trim() === 'none') return units;
  for (const item of spec.split(',').map((i) => i.trim()).filter(Boolean)) {
    const [suite, arch] = item.split(':');
    if (!suite || !arch || !INDEX_ARCHITECTURES.includes(arch)) return `'${item}' is not SUITE:ARCH (ARCH one of ${INDEX_ARCHITECTURES.join(', ')})`;
    const planned = unitsForPlan(plan(suite, arch));
    if ('skipped' in planned) return `'${item}': ${planned.skipped}`;
    for (const u of planned.units) if (!units.some((x) => unitKey(x) === unitKey(u))) units.push(u);
  }
  return units;
}
