// Loading a YAML template: Default, Repositories, PostScripts, Groups, and every other key a platform.
// Cross references (a platform's repositories and post-scripts) are checked when a kickstart is generated,
// after the overlay, so a template may name things a later overlay or another template defines.
import { DEFAULT_ARCH } from './architectures.ts';
import type { ZodIssue } from 'zod';
import type { TemplateIssue } from './errors.ts';
import { breaksBody } from './ks-sections.ts';
import { isValidGroupName, isValidRepoName } from './names.ts';
import { byLine, inheritDefaults, readPlatformNode } from './platform.ts';
import type { Platform } from './platform.ts';
import { groupSchema, postScriptObjectSchema, repositorySchema } from './template-schema.ts';
import type { TemplateRepositoryValues } from './template-schema.ts';
import { MAX_PLATFORMS, MAX_REPORTED_ERRORS } from './limits.ts';
import { lineAt, loadYamlTree, plainValue } from './yaml-tree.ts';
import type { YamlEntry, YamlNode } from './yaml-tree.ts';

export interface TemplateRepository extends TemplateRepositoryValues {
  line: number;
}

export interface TemplatePostScript {
  name: string;
  body: string;
  interpreter: string;
  nochroot: boolean;
  erroronfail: boolean;
  line: number;
}

/** Group name → Debian packages (task and metapackages count as packages). */
export type GroupTable = Readonly<Record<string, readonly string[]>>;

export interface Template {
  file?: string;
  defaults: Platform;
  /** In document order. */
  platforms: ReadonlyMap<string, Platform>;
  repositories: ReadonlyMap<string, TemplateRepository>;
  postScripts: ReadonlyMap<string, TemplatePostScript>;
  groups: GroupTable;
}

export interface LoadTemplateResult {
  template?: Template;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
}

const RESERVED = new Set(['Default', 'Repositories', 'PostScripts', 'Groups']);

export function loadTemplate(text: string, opts: { file?: string } = {}): LoadTemplateResult {
  const doc = loadYamlTree(text);
  const errors: TemplateIssue[] = doc.errors.map((e) => ({ source: 'template', ...e }));
  const warnings: TemplateIssue[] = doc.warnings.map((w) => ({ source: 'template', ...w }));
  if (errors.length > 0) return { errors, warnings };
  const root = doc.root;
  if (!root || root.kind !== 'map') {
    errors.push({ source: 'template', line: root?.line ?? 1, message: 'a template is a YAML mapping of platforms' });
    return { errors, warnings };
  }
  const section = (key: string): YamlEntry | undefined => root.entries.find((e) => e.key === key);

  const defaults = readPlatformNode(section('Default')?.value, 'Default', 'Default', 'template');
  errors.push(...defaults.errors);
  const platforms = new Map<string, Platform>();
  if (root.entries.length > MAX_PLATFORMS + RESERVED.size) {
    errors.push({ source: 'template', line: root.line, message: `the template has more than ${MAX_PLATFORMS} platforms: the limit is ${MAX_PLATFORMS}` });
    return { errors, warnings };
  }
  for (const entry of root.entries) {
    if (errors.length >= MAX_REPORTED_ERRORS) break;
    if (RESERVED.has(entry.key)) continue;
    if (!isValidRepoName(entry.key)) {
      errors.push({ source: 'template', line: entry.line, message: `'${entry.key}' is not a valid platform name` });
      continue;
    }
    const read = readPlatformNode(entry.value, entry.key, `platform '${entry.key}'`, 'template');
    errors.push(...read.errors);
    if (read.platform) platforms.set(entry.key, read.platform);
  }
  const repositories = readRepositories(section('Repositories'), errors);
  const postScripts = readPostScripts(section('PostScripts'), errors);
  const groups = readGroups(section('Groups'), errors);
  if (errors.length > 0 || !defaults.platform) return { errors: byLine(errors).slice(0, MAX_REPORTED_ERRORS), warnings };
  const template: Template = { defaults: defaults.platform, platforms, repositories, postScripts, groups };
  if (opts.file !== undefined) template.file = opts.file;
  return { template, errors, warnings };
}

export function listPlatforms(template: Template): string[] {
  return [...template.platforms.keys()];
}

/** The architecture a platform builds: its Architecture, else Default's, else amd64. */
export function platformArchitecture(template: Template, name: string): string {
  return inheritedPlatform(template, name).platform?.values.Architecture ?? DEFAULT_ARCH;
}

/** The platform with Default's values under it; an unknown name is an error listing the known ones. */
export function inheritedPlatform(template: Template, name: string): { platform?: Platform; errors: TemplateIssue[] } {
  const own = template.platforms.get(name);
  if (!own) {
    const known = listPlatforms(template).join(', ') || 'none';
    return { errors: [{ source: 'template', message: `no platform '${name}' in the template (platforms: ${known})` }] };
  }
  return { platform: inheritDefaults(template.defaults, own), errors: [] };
}

function mappingOf(entry: YamlEntry | undefined, what: string, errors: TemplateIssue[]): YamlEntry[] {
  if (!entry || (entry.value.kind === 'value' && entry.value.value === null)) return [];
  if (entry.value.kind === 'map' && entry.value.entries.length > MAX_PLATFORMS) {
    errors.push({ source: 'template', line: entry.line, message: `${what} has more than ${MAX_PLATFORMS} entries: the limit is ${MAX_PLATFORMS}` });
    return [];
  }
  if (entry.value.kind === 'map') return entry.value.entries;
  errors.push({ source: 'template', line: entry.line, message: `${what} must be a mapping` });
  return [];
}

function zodIssues(node: YamlNode, label: string, issues: readonly ZodIssue[]): TemplateIssue[] {
  const flat = issues.flatMap((i): { path: (string | number)[]; message: string }[] =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: [k], message: 'unknown key' })) : [i]);
  return flat.map((i) => ({
    source: 'template' as const,
    line: lineAt(node, i.path),
    message: `${label}${pathLabel(i.path)}: ${i.message}`,
  }));
}

function pathLabel(path: readonly (string | number)[]): string {
  if (path.length === 0) return '';
  const [head, ...rest] = path;
  if (typeof head === 'number') return ` item ${head + 1}`;
  return `, key '${head}${rest.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}'`;
}

function readRepositories(entry: YamlEntry | undefined, errors: TemplateIssue[]): Map<string, TemplateRepository> {
  const out = new Map<string, TemplateRepository>();
  if (!entry || (entry.value.kind === 'value' && entry.value.value === null)) return out;
  if (entry.value.kind !== 'seq') {
    errors.push({ source: 'template', line: entry.line, message: 'Repositories must be a list of {Name, Url?, Suite, Components, Key?}' });
    return out;
  }
  if (entry.value.items.length > MAX_PLATFORMS) {
    errors.push({ source: 'template', line: entry.line, message: `Repositories lists more than ${MAX_PLATFORMS} repositories: the limit is ${MAX_PLATFORMS}` });
    return out;
  }
  entry.value.items.forEach((item, index) => {
    const label = `Repositories[${index}]`;
    const parsed = repositorySchema.safeParse(plainValue(item));
    if (!parsed.success) {
      errors.push(...zodIssues(item, label, parsed.error.issues));
      return;
    }
    const first = out.get(parsed.data.Name);
    if (first) {
      errors.push({ source: 'template', line: item.line, message: `repository '${parsed.data.Name}' is defined twice (first on line ${first.line})` });
      return;
    }
    out.set(parsed.data.Name, { ...parsed.data, line: item.line });
  });
  return out;
}

function readPostScripts(entry: YamlEntry | undefined, errors: TemplateIssue[]): Map<string, TemplatePostScript> {
  const out = new Map<string, TemplatePostScript>();
  for (const e of mappingOf(entry, 'PostScripts', errors)) {
    const label = `post-script '${e.key}'`;
    if (!isValidRepoName(e.key)) {
      errors.push({ source: 'template', line: e.line, message: `'${e.key}' is not a valid post-script name` });
      continue;
    }
    const raw = plainValue(e.value);
    let script: TemplatePostScript;
    if (typeof raw === 'string') {
      script = { name: e.key, body: raw, interpreter: '/bin/sh', nochroot: false, erroronfail: false, line: e.line };
    } else {
      const parsed = postScriptObjectSchema.safeParse(raw);
      if (!parsed.success) {
        errors.push(...zodIssues(e.value, label, parsed.error.issues));
        continue;
      }
      const d = parsed.data;
      script = {
        name: e.key, body: d.Script, interpreter: d.Interpreter ?? '/bin/sh',
        nochroot: d.NoChroot ?? false, erroronfail: d.ErrorOnFail ?? false, line: e.line,
      };
    }
    // A YAML block scalar ends with a newline; the kickstart's %end supplies it.
    script.body = script.body.replace(/\n+$/, '');
    const bad = script.body.split('\n').findIndex((l) => breaksBody(l.trim()) !== undefined);
    if (bad >= 0) {
      errors.push({ source: 'template', line: e.line, message: `${label}: its line ${bad + 1} would end or open a kickstart section` });
      continue;
    }
    out.set(e.key, script);
  }
  return out;
}

function readGroups(entry: YamlEntry | undefined, errors: TemplateIssue[]): GroupTable {
  const out: [string, readonly string[]][] = [];
  for (const e of mappingOf(entry, 'Groups', errors)) {
    if (!isValidGroupName(e.key)) {
      errors.push({ source: 'template', line: e.line, message: `'${e.key}' is not a valid group name` });
      continue;
    }
    const parsed = groupSchema.safeParse(plainValue(e.value));
    if (!parsed.success) {
      errors.push(...zodIssues(e.value, `group '${e.key}'`, parsed.error.issues));
      continue;
    }
    out.push([e.key, parsed.data]);
  }
  return Object.fromEntries(out);
}
