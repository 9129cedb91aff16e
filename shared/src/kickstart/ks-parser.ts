// The one kickstart reader of the project: kickstart text → BuildPlan, or errors naming lines.
// A single forward pass over the lines; section bodies are sliced, never rescanned, and the only regular
// expressions are anchored character classes, so a megabyte reads in milliseconds.
import type { BuildPlan, PlanScript } from './build-plan.ts';
import { runCommand } from './ks-commands.ts';
import type { Draft } from './ks-commands.ts';
import { parseOptions } from './ks-options.ts';
import { sectionWord } from './ks-sections.ts';
import { tokenize } from './ks-tokenize.ts';
import type { KsError } from './errors.ts';
import { isValidAbsolutePath, isValidDebianPackageName, isValidGroupName } from './names.ts';
import { MAX_GROUPS, MAX_PACKAGES, MAX_POST_SCRIPTS, MAX_REPORTED_ERRORS } from './limits.ts';
import type { KickstartLimits } from './limits.ts';
import { DEFAULT_SUITE, releaseOf } from './suites.ts';
import { DEFAULT_ARCH } from './architectures.ts';

export interface ParseResult {
  /** Present only when there are no errors. */
  plan?: BuildPlan;
  errors: KsError[];
  warnings: KsError[];
}


/** Past this, a file is not a kickstart with mistakes but something else: stop, and keep the report readable. */
const MAX_ERRORS = MAX_REPORTED_ERRORS;

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
  /** The architecture the request asks for (a kickstart does not say it); absent: DEFAULT_ARCH. */
  arch?: string;
}

const PACKAGE_RULE = 'lowercase letters, digits, +, - and . only; at least two characters; starting with a letter or digit';

export function parseKickstart(text: string, opts: ParseOptions = {}): ParseResult {
  const lines = (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).split('\n');
  const errors: KsError[] = [];
  const warnings: KsError[] = [];
  const report = (into: KsError[], line: number, message: string): void => {
    into.push({ line, message, text: lines[line - 1] ?? '' });
  };
  const draft: Draft = {
    plan: {
      suite: DEFAULT_SUITE, architecture: opts.arch ?? DEFAULT_ARCH, users: [], partitions: [], bootloader: {}, repos: [],
      packages: { include: [], exclude: [], groups: [] }, post: [],
    },
    firstSeen: new Map(),
    sshkeys: [],
    repoLines: [],
  };
  if (opts.limits) draft.limits = opts.limits;
  const seenPackages = new Map<string, number>();

  let i = 0;
  while (i < lines.length) {
    const ln = i + 1;
    if (errors.length >= MAX_ERRORS) {
      report(errors, ln, `too many errors (${MAX_ERRORS}); the rest of the file is not checked`);
      break;
    }
    const trimmed = (lines[i] as string).trim();
    if (trimmed === '' || trimmed.charCodeAt(0) === 35 /* # */) {
      i++;
      continue;
    }
    if (trimmed.charCodeAt(0) !== 37 /* % */) {
      const tok = tokenize(trimmed);
      if (tok.error !== undefined) report(errors, ln, tok.error);
      else if (tok.tokens.length > 0) runCommand(draft, ln, tok.tokens, (m) => report(errors, ln, m));
      i++;
      continue;
    }
    const kind = sectionWord(trimmed);
    if (kind === '%end') {
      report(errors, ln, '%end outside a section');
      i++;
      continue;
    }
    if (kind === undefined) {
      report(errors, ln, `unknown directive '${trimmed.split(/[ \t]/, 1)[0]}' (IMG reads %packages and %post sections)`);
      i++;
      continue;
    }
    // Find the body: up to %end, or up to the next section header, which means this one is unterminated.
    let end = i + 1;
    let terminated = false;
    while (end < lines.length) {
      const w = sectionWord((lines[end] as string).trim());
      if (w === '%end') {
        terminated = true;
        break;
      }
      if (w !== undefined) break;
      end++;
    }
    const header = kind === 'foreign' ? trimmed.split(/[ \t]/, 1)[0] : kind;
    if (!terminated) report(errors, ln, `${header} section is not terminated by %end`);
    if (kind === 'foreign') {
      report(errors, ln, `section ${header} is not supported (IMG runs %packages and %post)`);
    } else if (kind === '%packages') {
      readPackagesHeader(trimmed, ln);
      readPackages(i + 1, end);
    } else {
      readPost(trimmed, ln, i + 1, end);
    }
    i = terminated ? end + 1 : end;
  }

  function readPackagesHeader(header: string, ln: number): void {
    const first = draft.firstSeen.get('%packages');
    if (first !== undefined) report(errors, ln, `duplicate %packages section (first on line ${first})`);
    else draft.firstSeen.set('%packages', ln);
    const tok = tokenize(header);
    if (tok.error !== undefined) return report(errors, ln, tok.error);
    const parsed = parseOptions('%packages', tok.tokens.slice(1), {});
    parsed.errors.forEach((m) => report(errors, ln, m));
    if (parsed.args[0] !== undefined) report(errors, ln, `unexpected argument '${parsed.args[0]}'`);
  }

  function readPackages(from: number, to: number): void {
    const pkgs = draft.plan.packages;
    for (let j = from; j < to && errors.length < MAX_ERRORS; j++) {
      const entry = (lines[j] as string).trim();
      if (entry === '' || entry.charCodeAt(0) === 35) continue;
      const ln = j + 1;
      let list: string[];
      let name: string;
      if (entry.charCodeAt(0) === 64 /* @ */) {
        name = entry.slice(1).trim();
        if (!isValidGroupName(name)) {
          report(errors, ln, name === '' ? 'empty group name after @' : `'${name}' is not a valid group name`);
          continue;
        }
        list = pkgs.groups;
      } else {
        const exclude = entry.charCodeAt(0) === 45 /* - */;
        name = exclude ? entry.slice(1) : entry;
        if (!isValidDebianPackageName(name)) {
          report(errors, ln, `'${name}' is not a valid Debian package name (${PACKAGE_RULE})`);
          continue;
        }
        list = exclude ? pkgs.exclude : pkgs.include;
      }
      const cap = list === pkgs.groups ? MAX_GROUPS : MAX_PACKAGES;
      if (list.length >= cap) {
        const what = list === pkgs.groups ? '@group lines' : list === pkgs.exclude ? 'excluded packages' : 'packages';
        report(errors, ln, `%packages lists more than ${cap} ${what}: the limit is ${cap}`);
        return;
      }
      const key = list === pkgs.groups ? `@${name}` : list === pkgs.exclude ? `-${name}` : name;
      const first = seenPackages.get(key);
      if (first !== undefined) {
        report(warnings, ln, `'${entry}' is listed twice (first on line ${first}); the repeat is ignored`);
        continue;
      }
      seenPackages.set(key, ln);
      list.push(name);
    }
  }

  function readPost(header: string, ln: number, from: number, to: number): void {
    if (draft.plan.post.length >= MAX_POST_SCRIPTS) return report(errors, ln, `more than ${MAX_POST_SCRIPTS} %post sections: the limit is ${MAX_POST_SCRIPTS}`);
    const tok = tokenize(header);
    if (tok.error !== undefined) return report(errors, ln, tok.error);
    const spec = { interpreter: 'value', nochroot: 'flag', erroronfail: 'flag', log: 'value' } as const;
    const parsed = parseOptions('%post', tok.tokens.slice(1), spec);
    parsed.errors.forEach((m) => report(errors, ln, m));
    if (parsed.args[0] !== undefined) report(errors, ln, `unexpected argument '${parsed.args[0]}'`);
    const interpreter = parsed.options.get('interpreter');
    const log = parsed.options.get('log');
    for (const [opt, value] of [['interpreter', interpreter], ['log', log]] as const) {
      if (typeof value === 'string' && !isValidAbsolutePath(value)) {
        report(errors, ln, `--${opt}=${value} is not an absolute path`);
      }
    }
    const script: PlanScript = {
      interpreter: typeof interpreter === 'string' ? interpreter : '/bin/sh',
      nochroot: parsed.options.has('nochroot'),
      body: lines.slice(from, to).join('\n'),
      line: ln,
    };
    if (parsed.options.has('erroronfail')) script.erroronfail = true;
    if (typeof log === 'string') script.log = log;
    draft.plan.post.push(script);
  }

  finish(draft, seenPackages, errors, warnings, report);
  draft.plan.suite = buildSuite(draft, opts.defaultSuite ?? DEFAULT_SUITE, (line, m) => report(errors, line, m));
  errors.sort((a, b) => a.line - b.line);
  warnings.sort((a, b) => a.line - b.line);
  return errors.length > 0 ? { errors, warnings } : { plan: draft.plan, errors, warnings };
}

/** What can only be checked once every line is read: keys of users declared anywhere, exclusions, the suite. */
function finish(
  draft: Draft, seenPackages: ReadonlyMap<string, number>, errors: KsError[], warnings: KsError[],
  report: (into: KsError[], line: number, message: string) => void,
): void {
  const plan = draft.plan;
  const users = new Map(plan.users.map((u) => [u.name, u]));
  for (const k of draft.sshkeys) {
    const user = users.get(k.user);
    if (user) user.sshkeys.push(k.key);
    else if (k.user === 'root') (plan.rootSshkeys ??= []).push(k.key);
    else report(errors, k.line, `sshkey for '${k.user}', who has no user line (only root needs none)`);
  }
  const excluded = new Set(plan.packages.exclude);
  for (const p of plan.packages.include) {
    if (excluded.has(p)) report(warnings, seenPackages.get(`-${p}`) ?? 1, `${p} is both listed and excluded; the exclusion wins`);
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
