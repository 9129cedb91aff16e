// Reading logs from offsets on character boundaries, and image keys that cannot leave their folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { slice } from '@img/shared/live-log';
import { DataLayout } from '@img/shared/layout';
import { LocalStorage } from '@img/shared/storage';
import { tempDir } from '@img/shared/testing';
import { imageObject } from '../../src/jobs/job-files.ts';

const id = 'ab'.repeat(16);

test('a log read in small pieces never splits a character, and the pieces add up to the log', () => {
  const text = 'héllo wörld → ✓ 𝄞 done\n'.repeat(50);
  const bytes = Buffer.from(text);
  let offset = 0;
  let got = '';
  for (let i = 0; i < 10_000; i++) {
    const chunk = slice(bytes, offset, 7);
    if (chunk.next === offset) break;
    assert.ok(!chunk.text.includes('\uFFFD'), `no broken character at ${offset}`);
    got += chunk.text;
    offset = chunk.next;
  }
  assert.equal(got, text);
  assert.deepEqual(slice(Buffer.alloc(0), 0, 10), { text: '', next: 0, size: 0 });
  // A piece of the log that starts at byte 100 of it, as the store answers a range.
  const part = slice(bytes.subarray(100, 200), 100, 50, 100, bytes.length);
  assert.equal(part.size, bytes.length);
  assert.equal(Buffer.from(part.text).equals(bytes.subarray(100, part.next)), true);
});

test('image keys: plain names inside the job\'s folder only', async () => {
  const dir = await tempDir();
  try {
    const storage = new LocalStorage(dir);
    await storage.init();
    const { imageDir } = new DataLayout(dir).job(id);
    await mkdir(imageDir, { recursive: true });
    await writeFile(join(imageDir, 'image.tar.zst'), 'x');
    await writeFile(join(dir, 'secret'), 'secret');
    await symlink(join(dir, 'secret'), join(imageDir, 'link'));
    assert.equal((await imageObject(storage, id, 'image.tar.zst'))?.key, `images/${id}/image.tar.zst`);
    for (const bad of ['../secret', '..', '.', '/etc/passwd', 'a/../../secret', 'link', 'missing', '', 'image.tar.zst\0x']) {
      assert.equal(await imageObject(storage, id, bad), undefined, `refused: ${JSON.stringify(bad)}`);
    }
    await assert.rejects(imageObject(storage, '../../etc', 'x'), /32 lowercase hex/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('only a regular file is served as an image: a FIFO (which would hang its reader), a link or a folder is not', async () => {
  const dir = await tempDir();
  try {
    const storage = new LocalStorage(dir);
    await storage.init();
    const { imageDir } = new DataLayout(dir).job(id);
    await mkdir(imageDir, { recursive: true });
    await writeFile(join(imageDir, 'good.raw'), 'disk');
    execFileSync('mkfifo', [join(imageDir, 'fifo.raw')]);
    await symlink(join(imageDir, 'good.raw'), join(imageDir, 'link.raw'));
    await mkdir(join(imageDir, 'dir.raw'));
    assert.equal((await imageObject(storage, id, 'good.raw'))?.size, 4);
    for (const name of ['fifo.raw', 'link.raw', 'dir.raw']) assert.equal(await imageObject(storage, id, name), undefined, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
