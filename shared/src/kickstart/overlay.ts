// Overlays: IMG's small edits to a template platform, applied before the kickstart is written.
//
// The seed's grammar is a comma-separated list: `name` adds a package, `-name` excludes one (both go to
// ExtraPackages, as the seed shows), `@Group` adds a group. IMG adds `repo:NAME`, which appends to Repos.
// An overlay may instead be a YAML mapping of platform keys: its lists are appended, its other values
// replace the platform's. Group and repository names are not looked up here: an overlay may name what
// the template defines later or elsewhere; generation and the build check them.
//
// An overlay is bounded: at most MAX_OVERLAY_ITEMS items, no YAML aliases, and each list no longer,
// with the platform's entries, than its cap; past any of these the overlay is refused with one error.
import type { TemplateIssue } from './errors.ts';
import { MAX_OVERLAY_ITEMS, MAX_REPORTED_ERRORS } from './limits.ts';
import { isValidDebianPackageName, isValidGroupName, isValidRepoName } from './names.ts';
import { readPlatformNode } from './platform.ts';
import type { Origin, Platform } from './platform.ts';
import { isListKey, LIST_CAPS, LIST_KEYS } from './template-schema.ts';
import type { ListKey, PlatformKey, PlatformValues } from './template-schema.ts';
import { loadYamlTree } from './yaml-tree.ts';
import type { YamlLoadResult } from './yaml-tree.ts';

export interface OverlayResult {
  /** The input platform itself when the overlay has errors: an overlay applies whole or not at all. */
  platform: Platform;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
}

const PACKAGE_RULE = 'lowercase letters, digits, +, - and . only; at least two characters; starting with a letter or digit';

export function applyOverlay(platform: Platform, overlayText: string): OverlayResult {
  if (overlayText.trim() === '') return { platform, errors: [], warnings: [] };
  const doc = loadYamlTree(overlayText, { refuseAliasesIn: 'an overlay' });
  const bound = doc.errors.find((e) => e.limit);
  if (bound) return { platform, errors: [{ source: 'overlay', line: bound.line, message: bound.message }], warnings: [] };
  // `repo:` alone also reads as a YAML mapping; a one-line mapping needs `key: value` or braces to count.
  const looksLikeMapping = overlayText.trim().includes('\n') || overlayText.includes(': ') || overlayText.trim().startsWith('{');
  if (doc.root?.kind === 'map' && doc.errors.length === 0 && looksLikeMapping) return applyYamlOverlay(platform, doc);
  // Broken YAML that was plainly meant as YAML (a `Key:` line) gets the YAML error, not a list of odd items.
  const firstError = doc.errors[0];
  if (firstError && /^[ \t]*[A-Za-z]+[ \t]*:([ \t]|$)/m.test(overlayText)) {
    return { platform, errors: [{ source: 'overlay', line: firstError.line, message: firstError.message }], warnings: [] };
  }
  return applyListOverlay(platform, overlayText);
}

function applyListOverlay(platform: Platform, text: string): OverlayResult {
  // Counted before the text is split: a megabyte of commas is one error, not a million.
  let commas = 0;
  for (let i = text.indexOf(','); i >= 0 && commas < MAX_OVERLAY_ITEMS; i = text.indexOf(',', i + 1)) commas++;
  if (commas >= MAX_OVERLAY_ITEMS) {
    return { platform, errors: [{ source: 'overlay', message: `the overlay has more than ${MAX_OVERLAY_ITEMS} items: the limit is ${MAX_OVERLAY_ITEMS}` }], warnings: [] };
  }
  const errors: TemplateIssue[] = [];
  const additions: { key: ListKey; value: string; origin: Origin }[] = [];
  text.split(',').forEach((raw, index) => {
    if (errors.length >= MAX_REPORTED_ERRORS) return;
    const item = raw.trim();
    const origin: Origin = { source: 'overlay', item: index + 1, text: item };
    const fail = (message: string) => errors.push({ source: 'overlay', item: index + 1, text: item, message });
    if (item === '') {
      fail('empty item (two commas in a row, or a comma at either end)');
    } else if (item.startsWith('@')) {
      const group = item.slice(1).trim();
      if (isValidGroupName(group)) additions.push({ key: 'Groups', value: group, origin });
      else fail(group === '' ? 'empty group name after @' : `'${group}' is not a valid group name`);
    } else if (item.startsWith('repo:')) {
      const repo = item.slice(5).trim();
      if (isValidRepoName(repo)) additions.push({ key: 'Repos', value: repo, origin });
      else fail(repo === '' ? 'empty repository name after repo:' : `'${repo}' is not a valid repository name`);
    } else {
      const name = item.startsWith('-') ? item.slice(1) : item;
      if (isValidDebianPackageName(name)) additions.push({ key: 'ExtraPackages', value: item, origin });
      else fail(`'${name}' is not a valid Debian package name (${PACKAGE_RULE})`);
    }
  });
  if (errors.length > 0) return { platform, errors, warnings: [] };
  const values: PlatformValues = { ...platform.values };
  const origins: Platform['origins'] = { ...platform.origins };
  for (const key of LIST_KEYS) {
    const added = additions.filter((a) => a.key === key);
    if (added.length === 0) continue;
    values[key] = [...(values[key] ?? []), ...added.map((a) => a.value)];
    origins[key] = [...(origins[key] ?? []), ...added.map((a) => a.origin)];
  }
  const long = tooLong(values);
  if (long) return { platform, errors: [long], warnings: [] };
  return { platform: { name: platform.name, values, origins }, errors: [], warnings: [] };
}

/** A list the overlay made longer than its cap, counting the platform's own entries. */
function tooLong(values: PlatformValues, lineOf?: (key: string) => number | undefined): TemplateIssue | undefined {
  for (const key of LIST_KEYS) {
    const n = values[key]?.length ?? 0;
    if (n <= LIST_CAPS[key]) continue;
    const line = lineOf?.(key);
    return {
      source: 'overlay', ...(line !== undefined ? { line } : {}),
      message: `with the overlay, ${key} has ${n} entries: the limit is ${LIST_CAPS[key]}`,
    };
  }
  return undefined;
}

function applyYamlOverlay(platform: Platform, doc: YamlLoadResult): OverlayResult {
  const warnings: TemplateIssue[] = doc.warnings.map((w) => ({ source: 'overlay', ...w }));
  const read = readPlatformNode(doc.root, platform.name, 'overlay', 'overlay');
  if (!read.platform) return { platform, errors: read.errors, warnings };
  const values: Record<string, unknown> = { ...platform.values };
  const origins: Platform['origins'] = { ...platform.origins };
  for (const [key, value] of Object.entries(read.platform.values)) {
    const k = key as PlatformKey;
    const origin = read.platform.origins[k] ?? [];
    if (isListKey(k)) {
      values[k] = [...(platform.values[k] ?? []), ...(value as string[])];
      origins[k] = [...(platform.origins[k] ?? []), ...origin];
    } else {
      values[k] = value;
      origins[k] = origin;
    }
  }
  const root = doc.root;
  const long = tooLong(values as PlatformValues, (key) => (root?.kind === 'map' ? root.entries.find((e) => e.key === key)?.line : undefined));
  if (long) return { platform, errors: [long], warnings };
  return { platform: { name: platform.name, values: values as PlatformValues, origins }, errors: [], warnings };
}
