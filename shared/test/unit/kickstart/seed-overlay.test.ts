// The seed's own example: its NETBOOK template, exactly as printed (the repeated PostScripts key included),
// with the seed's overlay plus IMG's `repo:internal`, must give the seed's result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadTemplate, mergedPlatform } from '@img/shared/kickstart';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const OVERLAY = 'gcc,@MeeGo Netbook Desktop,-google-chrome,repo:internal';

test('the seed NETBOOK template loads, warning about the repeated PostScripts key with both lines', () => {
  const loaded = loadTemplate(fixture('seed-netbook.yaml'), { file: 'seed-netbook.yaml' });
  assert.deepEqual(loaded.errors, []);
  assert.equal(loaded.warnings.length, 1);
  const w = loaded.warnings[0];
  assert.equal(w?.line, 19);
  assert.match(w?.message ?? '', /'PostScripts' is repeated on lines 5 and 19/);
});

test('the seed overlay applied to NETBOOK gives exactly the seed result', () => {
  const loaded = loadTemplate(fixture('seed-netbook.yaml'));
  assert.ok(loaded.template);
  const merged = mergedPlatform(loaded.template, 'NETBOOK', OVERLAY);
  assert.deepEqual(merged.errors, []);
  const v = merged.platform?.values;
  assert.deepEqual(v?.Groups, ['X for Netbooks', 'Virtual Machine Support', 'Printing', 'Games', 'MeeGo Netbook Desktop']);
  assert.deepEqual(v?.Repos, ['adobe', 'meego-core-1.0', 'meego-netbook-1.0', 'meego-extra-1.0', 'internal']);
  assert.deepEqual(v?.ExtraPackages, ['gdb', 'flash-plugin', 'adobe-release', 'gcc', '-google-chrome']);
  assert.deepEqual(v?.PostScripts, ['cleanup', 'flash', 'prelink']);
  assert.equal(v?.PartSize, 1900);
  assert.equal(v?.BootloaderAppend, 'quiet');
  assert.equal(v?.BootloaderTimeout, 0);
  assert.equal(v?.Kernel, 'kernel-netbook');
});

test('the seed result, loaded as a template, equals the overlaid seed template', () => {
  const after = loadTemplate(fixture('seed-netbook-after-overlay.yaml'));
  const before = loadTemplate(fixture('seed-netbook.yaml'));
  assert.ok(after.template && before.template);
  const merged = mergedPlatform(before.template, 'NETBOOK', OVERLAY);
  assert.deepEqual(merged.platform?.values, after.template.platforms.get('NETBOOK')?.values);
});

test('the overlay items keep their origin, so generation can name the item that added `internal`', () => {
  const loaded = loadTemplate(fixture('seed-netbook.yaml'));
  assert.ok(loaded.template);
  const merged = mergedPlatform(loaded.template, 'NETBOOK', OVERLAY);
  assert.deepEqual(merged.platform?.origins.Repos?.[4], { source: 'overlay', item: 4, text: 'repo:internal' });
  assert.deepEqual(merged.platform?.origins.Repos?.[0], { source: 'template', line: 15 });
});
