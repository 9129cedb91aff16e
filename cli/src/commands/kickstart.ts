// `img kickstart`: a YAML template, a platform and an overlay → the kickstart IMG would build from.
import { readFileSync } from 'node:fs';
import { commandArgs } from '../args.ts';
import {
  defaultTemplatePath, formatTemplateIssues, generateKickstart, listPlatforms, loadTemplate, mergedPlatform,
  platformYaml,
} from '@img/shared/kickstart';
import type { TemplateIssue } from '@img/shared/kickstart';

const USAGE = `usage: img kickstart [--config FILE] --platform NAME [--overlay TEXT] [--yaml]

  --config FILE     YAML template (default: the shipped ${defaultTemplatePath})
  --platform NAME   platform of the template
  --overlay TEXT    'pkg,-pkg,@Group,repo:NAME' or a YAML mapping of platform keys
  --yaml            print the merged platform as YAML instead of the kickstart
`;

const OPTIONS = {
  config: { type: 'string' }, platform: { type: 'string' }, overlay: { type: 'string' },
  yaml: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('kickstart', USAGE, args, OPTIONS);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const file = values.config ?? defaultTemplatePath;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`img kickstart: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const loaded = loadTemplate(text, { file });
  const warn = (issues: TemplateIssue[]) =>
    formatTemplateIssues(file, issues).forEach((l) => process.stderr.write(`warning: ${l}\n`));
  const fail = (issues: TemplateIssue[]) => {
    formatTemplateIssues(file, issues).forEach((l) => process.stderr.write(`${l}\n`));
    return 1;
  };
  warn(loaded.warnings);
  if (!loaded.template) return fail(loaded.errors);
  if (values.platform === undefined) {
    process.stderr.write(`img kickstart: --platform is required (platforms: ${listPlatforms(loaded.template).join(', ')})\n${USAGE}`);
    return 2;
  }
  if (values.yaml) {
    const merged = mergedPlatform(loaded.template, values.platform, values.overlay);
    warn(merged.warnings);
    if (!merged.platform) return fail(merged.errors);
    process.stdout.write(platformYaml(merged.platform));
    return 0;
  }
  const generated = generateKickstart(loaded.template, values.platform, values.overlay);
  warn(generated.warnings);
  if (generated.kickstart === undefined) return fail(generated.errors);
  process.stdout.write(generated.kickstart);
  return 0;
}
