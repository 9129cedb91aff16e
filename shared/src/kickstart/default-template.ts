// The template shipped with IMG, located from this file so it is found from any working directory.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTemplate } from './template.ts';
import type { LoadTemplateResult } from './template.ts';

export const defaultTemplatePath: string = fileURLToPath(new URL('../../templates/configurations.yaml', import.meta.url));

export function loadDefaultTemplate(): LoadTemplateResult {
  return loadTemplate(readFileSync(defaultTemplatePath, 'utf8'), { file: defaultTemplatePath });
}
