// The builder version is computed once, by the script that builds and tags the builder image, and
// covers the whole recipe: the scripts, the package list and the Dockerfile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { builderVersion } from '../../../src/builds/index.ts';
import { repoRoot, tempDir } from '../../../src/testing/index.ts';

const recipe = join(repoRoot, 'deploy/builder');

test('the version the services use is the builder image\'s tag', () => {
  const tag = execFileSync('bash', [join(recipe, 'build-image.sh'), '--print-tag'], { encoding: 'utf8' }).trim();
  assert.match(builderVersion(), /^[0-9a-f]{16}$/);
  assert.equal(tag, `img-builder:${builderVersion()}`);
});

test('a change to any file of the recipe, the Dockerfile included, is a new version', async () => {
  const dir = await tempDir('img-recipe-');
  try {
    cpSync(recipe, dir, { recursive: true });
    const before = builderVersion(dir);
    assert.equal(before, builderVersion(), 'a copy of the recipe has the same version');
    for (const file of ['Dockerfile', 'packages.txt', 'assemble-disk.sh']) {
      const was = builderVersion(dir);
      appendFileSync(join(dir, file), '\n# changed\n');
      assert.notEqual(builderVersion(dir), was, `${file} is part of the version`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
