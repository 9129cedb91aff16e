import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile, utimes, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sweepExpiredImages } from '../../../src/retention/index.ts';
import { LocalStorage } from '../../../src/storage/index.ts';
import { tempDir, testLogger } from '../../../src/testing/index.ts';

test('images finished longer ago than the retention are deleted (the local store; the sweep reads the store only through its interface); newer ones and builds in progress stay', async () => {
  const dir = await tempDir();
  try {
    const old = 'a'.repeat(32), fresh = 'b'.repeat(32), building = 'c'.repeat(32);
    for (const id of [old, fresh, building]) await mkdir(join(dir, 'images', id), { recursive: true });
    await writeFile(join(dir, 'images', old, 'result.json'), '{}');
    await writeFile(join(dir, 'images', fresh, 'result.json'), '{}');
    await writeFile(join(dir, 'images', building, 'image.tar.zst'), 'partial');
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000);
    await utimes(join(dir, 'images', old, 'result.json'), eightDaysAgo, eightDaysAgo);
    await utimes(join(dir, 'images', building, 'image.tar.zst'), eightDaysAgo, eightDaysAgo);
    const removed = await sweepExpiredImages({ storage: new LocalStorage(dir), days: 7, log: testLogger() });
    assert.deepEqual(removed, [old]);
    assert.deepEqual((await readdir(join(dir, 'images'))).sort(), [fresh, building].sort());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
