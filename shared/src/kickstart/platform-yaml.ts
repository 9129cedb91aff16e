// A merged platform as YAML (`img kickstart --yaml`): keys in the schema's order, so output is stable.
import yaml from 'js-yaml';
import type { Platform } from './platform.ts';
import { PLATFORM_KEYS } from './template-schema.ts';

export function platformYaml(platform: Platform): string {
  const ordered: Record<string, unknown> = {};
  for (const key of PLATFORM_KEYS) {
    const value = platform.values[key];
    if (value !== undefined) ordered[key] = value;
  }
  return yaml.dump({ [platform.name]: ordered }, { lineWidth: -1, noRefs: true, sortKeys: false });
}
