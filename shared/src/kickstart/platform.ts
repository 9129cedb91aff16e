// A platform's values together with where each came from, so that a problem found late (an undefined
// repository at generation) still names the template line or the overlay item that introduced it.
import type { TemplateIssue } from './errors.ts';
import { isListKey, platformSchema } from './template-schema.ts';
import type { PlatformKey, PlatformValues } from './template-schema.ts';
import { lineAt, plainValue } from './yaml-tree.ts';
import type { YamlNode } from './yaml-tree.ts';

export type Origin =
  | { source: 'template'; line: number }
  | { source: 'overlay'; line?: number; item?: number; text?: string };

export interface Platform {
  name: string;
  values: PlatformValues;
  /** One origin per list element, one for a scalar or the User mapping. */
  origins: Partial<Record<PlatformKey, Origin[]>>;
}

export function issueAt(origin: Origin | undefined, message: string): TemplateIssue {
  if (!origin) return { source: 'template', message };
  if (origin.source === 'template') return { source: 'template', line: origin.line, message };
  const issue: TemplateIssue = { source: 'overlay', message };
  if (origin.line !== undefined) issue.line = origin.line;
  if (origin.item !== undefined) issue.item = origin.item;
  if (origin.text !== undefined) issue.text = origin.text;
  return issue;
}

/**
 * Validates a platform mapping (a template's platform, Default, or a YAML overlay). `label` starts every
 * message (`platform 'NETBOOK'`); problems carry the line of the key, or of the list item, at fault.
 */
export function readPlatformNode(
  node: YamlNode | undefined, name: string, label: string, source: 'template' | 'overlay',
): { platform?: Platform; errors: TemplateIssue[] } {
  const at = (line: number): Origin => (source === 'template' ? { source: 'template', line } : { source: 'overlay', line });
  if (!node || (node.kind === 'value' && node.value === null)) {
    return { platform: { name, values: {}, origins: {} }, errors: [] };
  }
  if (node.kind !== 'map') {
    return { errors: [issueAt(at(node.line), `${label} must be a mapping of settings`)] };
  }
  const parsed = platformSchema.safeParse(plainValue(node));
  if (!parsed.success) {
    const errors: TemplateIssue[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const within = issue.path.length > 0 ? `, key '${issue.path.join('.')}'` : '';
        for (const key of issue.keys) {
          errors.push(issueAt(at(lineAt(node, [...issue.path, key])), `${label}${within}: unknown key '${key}'`));
        }
        continue;
      }
      const [key, ...rest] = issue.path;
      const where = rest.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
      errors.push(issueAt(at(lineAt(node, issue.path)), `${label}, key '${String(key)}${where}': ${issue.message}`));
    }
    return { errors: byLine(errors) };
  }
  const values = parsed.data;
  const origins: Platform['origins'] = {};
  for (const entry of node.entries) {
    const key = entry.key as PlatformKey;
    if (isListKey(key) && entry.value.kind === 'seq') {
      origins[key] = entry.value.items.map((item) => at(item.line));
    } else {
      origins[key] = [at(entry.line)];
    }
  }
  return { platform: { name, values, origins }, errors: [] };
}

/**
 * Default's values under the platform's. A key the platform sets replaces Default's value, lists included,
 * as kickstarter's dict update did: a platform can then drop a Default package or repository, and an
 * overlay is the tool for adding to a list.
 */
export function inheritDefaults(defaults: Platform, platform: Platform): Platform {
  return {
    name: platform.name,
    values: { ...defaults.values, ...platform.values },
    origins: { ...defaults.origins, ...platform.origins },
  };
}

/** zod reports in schema order; people read a file top to bottom. */
export function byLine(issues: TemplateIssue[]): TemplateIssue[] {
  return issues.map((issue, index) => ({ issue, index }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.index - b.index)
    .map((x) => x.issue);
}
