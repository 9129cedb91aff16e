// The apt sources of a build: what mmdebstrap installs from (one-line, its input) and what the image
// keeps (its release's own format), from the same list, so `apt update` in the image reads what the
// build read. @DEFAULT_MIRROR@ and @SECURITY_MIRROR@ stand for the Debian mirror and the security
// archive's; the sandbox script puts in the operator's settings or the builder's own defaults.
// Here, not in image-creator, so that the image-build benchmark's build by hand installs the same.
import type { BuildPlan, PlanRepo } from './build-plan.ts';
import { findSuite } from './suites.ts';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

export interface AptSources {
  /** For mmdebstrap: one `deb URI SUITE COMPONENTS` line per suite. */
  install: string;
  /** The image's file: its name under /etc/apt and its text. */
  image: { file: 'sources.list' | 'debian.sources'; text: string };
  sources: AptSource[];
}

const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * A Debian repository line (no --baseurl) for the release itself brings its updates and security
 * suites when the release has them (stable and oldstable); testing and sid have none. Other lines,
 * a repository of the kickstart's own or Debian's backports, are taken as they are.
 */
export function aptSources(plan: BuildPlan): AptSources {
  const suite = findSuite(plan.suite);
  const base: PlanRepo = { name: 'debian', suite: plan.suite, components: ['main'] };
  const debian = plan.repos.filter((r) => r.baseurl === undefined);
  // `repo --suite=trixie-backports` alone still needs trixie itself beneath it.
  const repos = plan.repos.length === 0 ? [base] : debian.length > 0 && !debian.some((r) => r.suite === plan.suite) ? [base, ...plan.repos] : plan.repos;
  const sources: AptSource[] = [];
  for (const r of repos) {
    if (r.baseurl !== undefined) {
      sources.push({ uri: r.baseurl, suites: [r.suite], components: r.components });
    } else if (r.suite === plan.suite && suite?.updates) {
      sources.push({ uri: '@DEFAULT_MIRROR@', suites: [r.suite, `${r.suite}-updates`], components: r.components });
      sources.push({ uri: '@SECURITY_MIRROR@', suites: [`${r.suite}-security`], components: r.components });
    } else {
      sources.push({ uri: '@DEFAULT_MIRROR@', suites: [r.suite], components: r.components });
    }
  }
  const install = sources.flatMap((s) => s.suites.map((x) => `deb ${s.uri} ${x} ${s.components.join(' ')}\n`)).join('');
  const image = suite?.sourcesFormat === 'one-line'
    ? { file: 'sources.list' as const, text: install }
    : { file: 'debian.sources' as const, text: sources.map((s) => deb822(s)).join('\n') };
  return { install, image, sources };
}

/** One stanza, as Debian's installer writes it from trixie on; Debian's own repositories name their keyring. */
function deb822(s: AptSource): string {
  const debian = s.uri.startsWith('@');
  return [
    'Types: deb', `URIs: ${s.uri}`, `Suites: ${s.suites.join(' ')}`, `Components: ${s.components.join(' ')}`,
    ...(debian ? [`Signed-By: ${DEBIAN_KEYRING}`] : []),
  ].join('\n') + '\n';
}
