// The check before a build is queued: every package, exclusion and @Group of a kickstart against the
// package index of the suite, components and architecture it is built for. A pure function of the
// parse and the index, used alike by the frontend at submission, POST /api/v1/kickstart/check,
// `img ks-check --server` and image-creator at build time, so the message a person reads names the same
// line whichever of them found it.
//
// A package apt cannot install is an error (under %packages --ignoremissing, a warning: the build skips
// it), with the names the person probably meant: Debian's for an RPM name (vim-enhanced is vim), then
// the closest by spelling. A virtual package several packages provide is an error too, since apt will
// not choose between them. An exclusion of a package the suite does not have is a warning: it does nothing.
import { Report } from '../kickstart/errors.ts';
import type { KsError } from '../kickstart/errors.ts';
import { debianCandidates } from '../kickstart/rpm-names.ts';
import type { GroupTable, ParseResult } from '../kickstart/index.ts';
import type { PackageIndexView } from './package-index.ts';

export interface PackageCheckOptions {
  /** The suites, components and architecture, as a message names them: "Debian trixie (…; main) for amd64". */
  described: string;
  /** The builder's group table, whose packages `@Group` lines add. */
  groups?: GroupTable;
  /** The same suites for the other architectures, to say where a missing package is (`grub-pc` is amd64's). */
  elsewhere?: readonly PackageIndexView[];
}

export interface CheckedKickstart {
  errors: KsError[];
  warnings: KsError[];
}

const MAX_PROVIDERS_SHOWN = 8;

function quoteList(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

/** What the name may have meant, among the names the index has: Debian's for an RPM name first. */
function suggestions(name: string, view: PackageIndexView): string[] {
  const table = debianCandidates(name, view.architecture).filter((c) => view.installable(c));
  const spelled = view.closest(name.toLowerCase(), 3);
  return [...new Set([...table, ...spelled])].slice(0, 3);
}

function elsewhereNote(name: string, o: PackageCheckOptions): string {
  const archs = (o.elsewhere ?? []).filter((v) => v.installable(name)).map((v) => v.architecture);
  return archs.length > 0 ? ` (it is there for ${archs.join(' and ')})` : '';
}

/**
 * The parse's errors and warnings with the package check's added, in line order, capped as the
 * parser caps them. An RPM-style name the parser refused gets the suggestions the index can give.
 */
export function checkPackages(text: string, parsed: ParseResult, view: PackageIndexView, o: PackageCheckOptions): CheckedKickstart {
  const source = (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).split('\n');
  const report = new Report(source);
  const better = new Map<number, string>();
  for (const bad of parsed.lines.badNames) {
    const ideas = suggestions(bad.name, view);
    if (ideas.length > 0) better.set(bad.line, `'${bad.name}' is not a Debian package name (they are lowercase, with - where RPM names have _); ${o.described} has ${quoteList(ideas)}`);
  }
  const add = (into: 'error' | 'warn', line: number, message: string) => report[into](line, message);
  for (const e of parsed.errors) add('error', e.line, better.get(e.line) ?? e.message);
  // The parse's own closing note is made again, counting the check's warnings too.
  const ownWarnings = parsed.omitted.warnings > 0 ? parsed.warnings.slice(0, -1) : parsed.warnings;
  for (const w of ownWarnings) add('warn', w.line, w.message);
  report.omitted(parsed.omitted.warnings, parsed.omitted.from);

  const plan = parsed.draft;
  const ignoremissing = plan.packages.ignoremissing === true;
  const lineOf = (map: Map<string, number>, name: string) => map.get(name) ?? parsed.lines.packages ?? 1;
  for (const name of plan.packages.include) {
    const line = lineOf(parsed.lines.include, name);
    const found = view.lookup(name);
    if (found.kind === 'real') continue;
    if (found.kind === 'virtual') {
      if (found.providers.length === 1) continue;
      const shown = found.providers.slice(0, MAX_PROVIDERS_SHOWN);
      const more = found.providers.length - shown.length;
      add('error', line, `'${name}' is a virtual package of ${o.described}, provided by ${quoteList(shown)}${more > 0 ? ` and ${more} more` : ''}: apt does not choose between them, so name the one to install`);
      continue;
    }
    const ideas = suggestions(name, view);
    const hint = ideas.length > 0 ? `; did you mean ${quoteList(ideas)}?` : '';
    if (ignoremissing) add('warn', line, `package '${name}' is not in ${o.described}${elsewhereNote(name, o)}: the build skips it (%packages --ignoremissing)${hint}`);
    else add('error', line, `package '${name}' is not in ${o.described}${elsewhereNote(name, o)}${hint}`);
  }
  for (const name of plan.packages.exclude) {
    if (view.lookup(name).kind !== 'missing') continue;
    const ideas = suggestions(name, view);
    add('warn', lineOf(parsed.lines.exclude, name), `-${name} excludes a package ${o.described} does not have, so it changes nothing${ideas.length > 0 ? `; did you mean ${quoteList(ideas)}?` : ''}`);
  }
  for (const group of plan.packages.groups) {
    const members = o.groups && Object.hasOwn(o.groups, group) ? o.groups[group] ?? [] : [];
    const missing = members.filter((p) => !view.installable(p));
    if (missing.length === 0) continue;
    const line = lineOf(parsed.lines.groups, group);
    const what = `@${group} adds ${quoteList(missing)}, which ${o.described} does not have`;
    if (ignoremissing) add('warn', line, `${what}: the build skips ${missing.length === 1 ? 'it' : 'them'} (%packages --ignoremissing)`);
    else add('error', line, `${what} (the group table of this service needs an update: tell its operator)`);
  }
  return report.done();
}
