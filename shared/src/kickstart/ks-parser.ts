// The one kickstart reader of the project: kickstart text → BuildPlan, or errors naming lines, and
// warnings naming the lines it accepts but does not act on. It reads what pykickstart reads: comments
// where shlex allows them, %packages header options, and every section, known or not, to its %end.
// A single forward pass over the lines; section bodies are sliced, never rescanned, and the only regular
// expressions are anchored character classes, so a megabyte reads in milliseconds.
import type { BuildPlan, PlanScript } from './build-plan.ts';
import { runCommand } from './ks-commands.ts';
import type { Draft } from './ks-commands.ts';
import { parseOptions } from './ks-options.ts';
import type { OptionSpec } from './ks-options.ts';
import { breaksBody, IGNORED_SECTIONS, percentWord, sectionWord } from './ks-sections.ts';
import { tokenize } from './ks-tokenize.ts';
import { Report } from './errors.ts';
import type { KsError } from './errors.ts';
import { isValidAbsolutePath, isValidDebianPackageName, isValidGroupName } from './names.ts';
import { MAX_GROUPS, MAX_PACKAGES, MAX_POST_SCRIPTS } from './limits.ts';
import type { KickstartLimits } from './limits.ts';
import { DEFAULT_SUITE, releaseOf } from './suites.ts';
import { DEFAULT_ARCH } from './architectures.ts';
import { debianCandidates } from './rpm-names.ts';
import type { GroupTable } from './template.ts';

/** Where in the kickstart each package, exclusion and group was named: the package check reports by line. */
export interface PlanLines {
  include: Map<string, number>;
  exclude: Map<string, number>;
  groups: Map<string, number>;
  /** Lines naming a package the way RPM does (`NetworkManager`): errors, whose suggestions the package check may improve. */
  badNames: { line: number; name: string; exclude: boolean }[];
  /** The first %packages header. */
  packages?: number;
  /** The services line. */
  services?: number;
}

export interface ParseResult {
  /** Present only when there are no errors. */
  plan?: BuildPlan;
  /** The plan as far as it could be read, errors or not: the package check reads it too. */
  draft: BuildPlan;
  lines: PlanLines;
  errors: KsError[];
  /** At most MAX_REPORTED_WARNINGS, then one saying how many more there were (`omitted`). */
  warnings: KsError[];
  omitted: { warnings: number; from: number };
}

export interface ParseOptions {
  /** Accepted for symmetry with loadTemplate; errors carry lines and formatKsErrors adds the name. */
  file?: string;
  /** The operator's caps (IMG_MAX_DISK_MB → maxRootSizeMib); absent: the defaults of limits.ts. */
  limits?: KickstartLimits;
  /**
   * The suite of a kickstart whose repo lines name no Debian release: the request's `suite` field,
   * else the operator's IMG_DEFAULT_SUITE. Absent: suites.ts's DEFAULT_SUITE.
   */
  defaultSuite?: string;
  /** The group table `@Group` lines resolve through (the builder's): an unknown group is an error on its line. */
  groups?: GroupTable;
  /** The architecture the request asks for (a kickstart does not say it); absent: DEFAULT_ARCH. RPM names are suggested for it (`kernel` → linux-image-arm64). */
  arch?: string;
}

const PACKAGE_RULE = 'lowercase letters, digits, +, - and . only; at least two characters; starting with a letter or digit';

/** %packages header options: the two honoured, the rest of pykickstart's (and older versions') with the reason they are ignored. */
const PACKAGES_OPTIONS: OptionSpec = {
  excludedocs: 'flag', ignoremissing: 'flag', default: 'flag', nobase: 'flag', nocore: 'flag', multilib: 'flag',
  'inst-langs': 'value', instLangs: { alias: 'inst-langs' }, 'exclude-weakdeps': 'flag', excludeWeakdeps: { alias: 'exclude-weakdeps' },
  ignorebroken: 'flag', timeout: 'value', retries: 'value', resolvedeps: 'flag', ignoredeps: 'flag',
};
const PACKAGES_IGNORED: Readonly<Record<string, string>> = {
  default: "it asks for the distribution's default package set; a Debian image has its required packages and what %packages lists",
  nobase: 'a Debian image always has its essential and required packages, and nothing else unless listed',
  nocore: 'a Debian image always has its essential and required packages, and nothing else unless listed',
  multilib: 'Debian installs one architecture unless a package asks for another',
  'inst-langs': 'translations are installed as the packages ship them; remove locales in %post to save space',
  'exclude-weakdeps': "Debian's Recommends are not installed anyway",
  ignorebroken: 'a package whose dependencies cannot be met stops the build, as apt stops',
  timeout: "apt's download settings are the builder's",
  retries: "apt's download settings are the builder's",
  resolvedeps: 'apt always resolves dependencies',
  ignoredeps: 'apt always installs dependencies',
};

const POST_OPTIONS: OptionSpec = { interpreter: 'value', nochroot: 'flag', erroronfail: 'flag', log: 'value', logfile: { alias: 'log' } };

export function parseKickstart(text: string, opts: ParseOptions = {}): ParseResult {
  const lines = (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).split('\n');
  const report = new Report(lines);
  const arch = opts.arch ?? DEFAULT_ARCH;
  const draft: Draft = {
    plan: {
      suite: DEFAULT_SUITE, architecture: arch, users: [], partitions: [], bootloader: {}, repos: [],
      packages: { include: [], exclude: [], groups: [] }, post: [],
    },
    firstSeen: new Map(),
    sshkeys: [],
    repoLines: [],
  };
  if (opts.limits) draft.limits = opts.limits;
  const where: PlanLines = { include: new Map(), exclude: new Map(), groups: new Map(), badNames: [] };

  let i = 0;
  while (i < lines.length) {
    const ln = i + 1;
    if (report.full()) {
      report.stop(ln);
      break;
    }
    const trimmed = (lines[i] as string).trim();
    if (trimmed === '' || trimmed.charCodeAt(0) === 35 /* # */) {
      i++;
      continue;
    }
    if (trimmed.charCodeAt(0) !== 37 /* % */) {
      const tok = tokenize(trimmed);
      if (tok.error !== undefined) report.error(ln, tok.error);
      else if (tok.tokens.length > 0) runCommand(draft, ln, tok.tokens, (m) => report.error(ln, m), (m) => report.warn(ln, m));
      i++;
      continue;
    }
    const kind = sectionWord(trimmed) as NonNullable<ReturnType<typeof sectionWord>>;
    const header = percentWord(trimmed) as string;
    if (kind === '%end') {
      report.error(ln, '%end outside a section');
      i++;
      continue;
    }
    if (kind === 'include') {
      report.error(ln, includeMessage(header));
      i++;
      continue;
    }
    // The body: up to %end, or up to the next section header, which means this one is unterminated.
    let end = i + 1;
    let terminated = false;
    const includes: number[] = [];
    while (end < lines.length) {
      const w = breaksBody((lines[end] as string).trim());
      if (w === '%end') {
        terminated = true;
        break;
      }
      if (w === 'include') includes.push(end);
      else if (w !== undefined) break;
      end++;
    }
    if (!terminated) report.error(ln, `${header} section is not terminated by %end`);
    for (const j of includes) report.error(j + 1, includeMessage(percentWord((lines[j] as string).trim()) as string));
    if (kind === 'ignored') {
      report.warn(ln, `section ${header} is skipped to its %end: ${IGNORED_SECTIONS[header]}`);
    } else if (kind === 'unknown') {
      report.error(ln, `unknown section ${header}; IMG runs %packages and %post (and skips ${Object.keys(IGNORED_SECTIONS).join(', ')})`);
    } else if (kind === '%packages') {
      readPackagesHeader(trimmed, ln);
      readPackages(i + 1, end, includes);
    } else {
      readPost(trimmed, ln, i + 1, end, includes);
    }
    i = terminated ? end + 1 : end;
  }

  function readPackagesHeader(headerLine: string, ln: number): void {
    where.packages ??= ln;
    const tok = tokenize(headerLine);
    if (tok.error !== undefined) return report.error(ln, tok.error);
    const parsed = parseOptions('%packages', tok.tokens.slice(1), PACKAGES_OPTIONS, { emptyAllowed: ['inst-langs'] });
    parsed.errors.forEach((m) => report.error(ln, m));
    if (parsed.args[0] !== undefined) report.error(ln, `unexpected argument '${parsed.args[0]}'`);
    const pkgs = draft.plan.packages;
    // As pykickstart, the last %packages header decides.
    delete pkgs.excludedocs;
    delete pkgs.ignoremissing;
    if (parsed.options.has('excludedocs')) pkgs.excludedocs = true;
    if (parsed.options.has('ignoremissing')) pkgs.ignoremissing = true;
    for (const o of parsed.options.keys()) {
      if (Object.hasOwn(PACKAGES_IGNORED, o)) report.warn(ln, `%packages --${o} is ignored: ${PACKAGES_IGNORED[o]}`);
    }
  }

  function readPackages(from: number, to: number, includes: number[]): void {
    const pkgs = draft.plan.packages;
    for (let j = from; j < to && !report.full(); j++) {
      if (includes.includes(j)) continue;
      // pykickstart cuts a %packages line at its first #, wherever it is.
      const raw = lines[j] as string;
      const hash = raw.indexOf('#');
      const entry = (hash < 0 ? raw : raw.slice(0, hash)).trim();
      if (entry === '') continue;
      const ln = j + 1;
      if (entry.startsWith('@^')) {
        report.error(ln, `'${entry}' selects a Fedora environment, which Debian does not have: list packages, or a group of IMG's table${groupList(opts.groups)}`);
        continue;
      }
      if (entry.startsWith('-@')) {
        report.error(ln, `'${entry}' excludes a group: a group here is a list of packages to add, so exclude the packages themselves (-name)`);
        continue;
      }
      if (entry.charCodeAt(0) === 64 /* @ */) {
        readGroup(entry.slice(1), ln);
        continue;
      }
      const exclude = entry.charCodeAt(0) === 45 /* - */;
      const name = (exclude ? entry.slice(1) : entry).trim();
      if (/[*?[\]]/.test(name)) {
        report.error(ln, `'${name}' is a glob: apt installs packages by name, so list the packages${exclude ? ' to exclude' : ''} one by one`);
        continue;
      }
      if (!isValidDebianPackageName(name)) {
        const ideas = debianCandidates(name, arch).filter((c) => isValidDebianPackageName(c));
        if (/^[A-Za-z0-9][A-Za-z0-9+._-]*$/.test(name)) where.badNames.push({ line: ln, name, exclude });
        report.error(ln, `'${name}' is not a Debian package name (${PACKAGE_RULE})${ideas.length > 0 ? `; perhaps ${ideas.map((c) => `'${c}'`).join(' or ')}` : ''}`);
        continue;
      }
      const list = exclude ? pkgs.exclude : pkgs.include;
      const seen = exclude ? where.exclude : where.include;
      if (list.length >= MAX_PACKAGES) {
        report.error(ln, `%packages lists more than ${MAX_PACKAGES} ${exclude ? 'excluded packages' : 'packages'}: the limit is ${MAX_PACKAGES}`);
        return;
      }
      const first = seen.get(name);
      if (first !== undefined) {
        report.warn(ln, `'${entry}' is listed twice (first on line ${first}); the repeat is ignored`);
        continue;
      }
      seen.set(name, ln);
      list.push(name);
    }
  }

  /** `@Group Name [--nodefaults|--optional]`, options anywhere, as pykickstart splits it. */
  function readGroup(body: string, ln: number): void {
    const words = body.split(/[ \t]+/).filter((w) => w !== '');
    const options = words.filter((w) => w.startsWith('--'));
    const name = words.filter((w) => !w.startsWith('--')).join(' ');
    if (name === '') return report.error(ln, 'empty group name after @');
    const unknownOption = options.find((o) => o !== '--optional' && o !== '--nodefaults');
    if (unknownOption !== undefined) return report.error(ln, `unknown group option ${unknownOption} (a group line is @Name)`);
    if (options.includes('--optional')) {
      return report.error(ln, `@${name} --optional: a group here is one fixed list of packages, with no optional ones; list the extra packages by name`);
    }
    if (name.includes(':')) return report.error(ln, `'@${name}' is a DNF module stream, which Debian does not have: list the packages by name`);
    if (!isValidGroupName(name)) return report.error(ln, `'${name}' is not a valid group name`);
    if (options.includes('--nodefaults')) report.warn(ln, `@${name} --nodefaults is read as @${name}: a group here is one fixed list of packages`);
    if (opts.groups && !Object.hasOwn(opts.groups, name)) {
      const lower = name.toLowerCase();
      const near = Object.keys(opts.groups).find((k) => k.toLowerCase() === lower);
      return report.error(ln, `unknown group '${name}'${near ? ` (did you mean '@${near}'?)` : ''}${groupList(opts.groups)}`);
    }
    const pkgs = draft.plan.packages;
    if (pkgs.groups.length >= MAX_GROUPS) return report.error(ln, `%packages lists more than ${MAX_GROUPS} @group lines: the limit is ${MAX_GROUPS}`);
    const first = where.groups.get(name);
    if (first !== undefined) return report.warn(ln, `'@${name}' is listed twice (first on line ${first}); the repeat is ignored`);
    where.groups.set(name, ln);
    pkgs.groups.push(name);
  }

  function readPost(headerLine: string, ln: number, from: number, to: number, includes: number[]): void {
    if (draft.plan.post.length >= MAX_POST_SCRIPTS) return report.error(ln, `more than ${MAX_POST_SCRIPTS} %post sections: the limit is ${MAX_POST_SCRIPTS}`);
    const tok = tokenize(headerLine);
    if (tok.error !== undefined) return report.error(ln, tok.error);
    const parsed = parseOptions('%post', tok.tokens.slice(1), POST_OPTIONS);
    parsed.errors.forEach((m) => report.error(ln, m));
    if (parsed.args[0] !== undefined) report.error(ln, `unexpected argument '${parsed.args[0]}'`);
    const interpreter = parsed.options.get('interpreter');
    const log = parsed.options.get('log');
    for (const [opt, value] of [['interpreter', interpreter], ['log', log]] as const) {
      if (typeof value === 'string' && !isValidAbsolutePath(value)) {
        report.error(ln, `--${opt}=${value} is not an absolute path`);
      }
    }
    const script: PlanScript = {
      interpreter: typeof interpreter === 'string' ? interpreter : '/bin/sh',
      nochroot: parsed.options.has('nochroot'),
      body: lines.slice(from, to).filter((_, k) => !includes.includes(from + k)).join('\n'),
      line: ln,
    };
    if (parsed.options.has('erroronfail')) script.erroronfail = true;
    if (typeof log === 'string') script.log = log;
    // As pykickstart, a script with nothing to run is no script (mic's templates leave empty ones).
    if (script.body.trim() !== '') draft.plan.post.push(script);
  }

  finish(draft, where, report);
  where.services = draft.servicesLine;
  if (where.services === undefined) delete where.services;
  draft.plan.suite = buildSuite(draft, opts.defaultSuite ?? DEFAULT_SUITE, (line, m) => report.error(line, m));
  const { errors, warnings } = report.done();
  const omitted = report.dropped;
  return errors.length > 0
    ? { draft: draft.plan, lines: where, errors, warnings, omitted }
    : { plan: draft.plan, draft: draft.plan, lines: where, errors, warnings, omitted };
}

function includeMessage(word: string): string {
  return `${word} is not supported: IMG reads one file; flatten the kickstart first, for example with ksflatten (from pykickstart: ksflatten -c main.ks -o flat.ks)`;
}

function groupList(groups: GroupTable | undefined): string {
  if (!groups) return '';
  const names = Object.keys(groups);
  return `; IMG's groups are ${names.length > 0 ? names.map((n) => `@${n}`).join(', ') : 'none'}`;
}

/** What can only be checked once every line is read: keys of users declared anywhere, exclusions, the suite. */
function finish(draft: Draft, where: PlanLines, report: Report): void {
  const plan = draft.plan;
  const users = new Map(plan.users.map((u) => [u.name, u]));
  for (const k of draft.sshkeys) {
    const user = users.get(k.user);
    if (user) user.sshkeys.push(k.key);
    else if (k.user === 'root') (plan.rootSshkeys ??= []).push(k.key);
    else report.error(k.line, `sshkey for '${k.user}', who has no user line (only root needs none)`);
  }
  const excluded = new Set(plan.packages.exclude);
  for (const p of plan.packages.include) {
    if (excluded.has(p)) report.warn(where.exclude.get(p) ?? 1, `${p} is both listed and excluded; the exclusion wins`);
  }
  plan.packages.include = plan.packages.include.filter((p) => !excluded.has(p));
}

/**
 * The one Debian release the image is built from: the one its repo lines name (a private mirror's
 * `--baseurl` line counts when its suite is a Debian release), else the default. Two releases in one
 * image would mix their libraries, so naming two is an error on the second line, naming both.
 */
function buildSuite(draft: Draft, fallback: string, fail: (line: number, message: string) => void): string {
  let first: { release: string; suite: string; line: number } | undefined;
  draft.plan.repos.forEach((r, i) => {
    const release = releaseOf(r.suite);
    const line = draft.repoLines[i] ?? 0;
    if (release === undefined) return;
    if (!first) first = { release, suite: r.suite, line };
    else if (first.release !== release) {
      fail(line, `repo --suite=${r.suite} is ${release}, but line ${first.line} (repo --suite=${first.suite}) is ${first.release}: `
        + 'an image is built from one Debian suite; make the repo lines name the same one');
    }
  });
  return first?.release ?? fallback;
}
