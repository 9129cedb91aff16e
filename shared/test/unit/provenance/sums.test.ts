// SHA256SUMS of a .zst download: `sha256sum -c` checks the files as downloaded and skips the comment
// lines; the comment line, taken out with sed, checks the decompressed image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompressedName, sha256sums } from '../../../src/provenance/index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('the list checks the .zst with sha256sum -c --strict, and the decompressed image by its comment line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'img-sums-'));
  try {
    await writeFile(join(dir, 'img-a-raw.raw.zst'), 'packed');
    await writeFile(join(dir, 'manifest.json'), '{}');
    const list = sha256sums([{ name: 'img-a-raw.raw.zst', sha256: sha('packed') }, { name: 'manifest.json', sha256: sha('{}') }],
      { name: decompressedName('img-a-raw.raw.zst'), sha256: sha('the disk') });
    await writeFile(join(dir, 'SHA256SUMS'), list);
    const downloaded = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
    assert.equal(downloaded.status, 0, downloaded.stdout + downloaded.stderr);
    assert.equal(downloaded.stdout, 'img-a-raw.raw.zst: OK\nmanifest.json: OK\n');
    const check = () => spawnSync('bash', ['-c', "sed -n 's/^# //p' SHA256SUMS | sha256sum -c --strict"], { cwd: dir, encoding: 'utf8' });
    await writeFile(join(dir, 'img-a-raw.raw'), 'the disk');
    assert.equal(check().stdout, 'img-a-raw.raw: OK\n');
    await writeFile(join(dir, 'img-a-raw.raw'), 'another disk');
    assert.notEqual(check().status, 0, 'a different decompressed image fails');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a compressed image the list is as before', () => {
  assert.equal(sha256sums([{ name: 'a.tar.zst', sha256: sha('x') }]), `${sha('x')}  a.tar.zst\n`);
});
