// Runs every case of corpus/ (see corpus/README.md) and compares with its expected files.
// IMG_UPDATE_CORPUS=1 rewrites the expected files from the current output, for review in the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  formatKsErrors, formatTemplateIssues, generateKickstart, kickstartFromPlan, loadDefaultTemplate, loadTemplate,
  parseKickstart, resolveGroups,
} from '@img/shared/kickstart';
import type { BuildPlan, GroupTable } from '@img/shared/kickstart';

const dir = fileURLToPath(new URL('corpus/', import.meta.url));
const update = process.env.IMG_UPDATE_CORPUS === '1';

interface Outcome {
  kickstart?: string;
  errors: string[];
  warnings: string[];
}

/** `# key: value` lines at the top of a case; a value starting with `"` is a JSON string. */
function headers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# ([a-z-]+): (.*)$/.exec(line.replace(/\r$/, ''));
    if (!m) break;
    const value = m[2] as string;
    out.set(m[1] as string, value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return out;
}

function withGroups(file: string, plan: BuildPlan, table: GroupTable, out: Outcome): Outcome {
  const resolved = resolveGroups(plan.packages.groups, table);
  if (resolved.errors.length === 0) return out;
  return { errors: resolved.errors.map((e) => `${file}: ${e.message}`), warnings: out.warnings };
}

function runKs(file: string, text: string): Outcome {
  const r = parseKickstart(text, { file });
  const warnings = formatKsErrors(file, r.warnings);
  if (!r.plan) return { errors: formatKsErrors(file, r.errors), warnings };
  const out = { kickstart: kickstartFromPlan(r.plan), errors: [], warnings };
  const shipped = loadDefaultTemplate().template;
  assert.ok(shipped);
  return headers(text).get('resolve-groups') === 'yes' ? withGroups(file, r.plan, shipped.groups, out) : out;
}

function runTemplate(file: string, text: string): Outcome {
  const h = headers(text);
  const platform = h.get('platform');
  assert.ok(platform, `${file}: needs a '# platform: NAME' header`);
  const loaded = loadTemplate(text, { file });
  const warnings = formatTemplateIssues(file, loaded.warnings);
  if (!loaded.template) return { errors: formatTemplateIssues(file, loaded.errors), warnings };
  const g = generateKickstart(loaded.template, platform, h.get('overlay'));
  warnings.push(...formatTemplateIssues(file, g.warnings));
  if (g.kickstart === undefined) return { errors: formatTemplateIssues(file, g.errors), warnings };
  const plan = parseKickstart(g.kickstart).plan;
  assert.ok(plan);
  const out = { kickstart: g.kickstart, errors: [], warnings };
  return h.get('resolve-groups') === 'yes' ? withGroups(file, plan, loaded.template.groups, out) : out;
}

const lines = (list: string[]) => (list.length > 0 ? `${list.join('\n')}\n` : '');

function compare(path: string, actual: string | undefined): void {
  if (update) {
    if (actual === undefined) rmSync(path, { force: true });
    else writeFileSync(path, actual);
    return;
  }
  const expected = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  assert.equal(actual, expected, path);
}

const cases = readdirSync(dir)
  .filter((f) => /^[a-z0-9-]+\.(ks|yaml)$/.test(f))
  .sort();

test('the corpus has at least 30 cases, at least 12 of them broken', () => {
  assert.ok(cases.length >= 30, `${cases.length} cases`);
  const broken = cases.filter((c) => existsSync(join(dir, c.replace(/\.(ks|yaml)$/, '.expected-errors.txt'))));
  assert.ok(broken.length >= 12, `${broken.length} broken cases`);
});

for (const file of cases) {
  test(`corpus: ${file}`, () => {
    const base = file.replace(/\.(ks|yaml)$/, '');
    const text = readFileSync(join(dir, file), 'utf8');
    const out = file.endsWith('.ks') ? runKs(file, text) : runTemplate(file, text);
    compare(join(dir, `${base}.expected.ks`), out.kickstart);
    compare(join(dir, `${base}.expected-errors.txt`), out.errors.length > 0 ? lines(out.errors) : undefined);
    compare(join(dir, `${base}.expected-warnings.txt`), out.warnings.length > 0 ? lines(out.warnings) : undefined);
    if (out.kickstart !== undefined) {
      const again = parseKickstart(out.kickstart).plan;
      assert.ok(again);
      assert.equal(kickstartFromPlan(again), out.kickstart, 'the written kickstart is a fixed point');
    }
  });
}
