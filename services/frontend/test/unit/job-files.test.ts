// Reading logs from offsets on character boundaries, and image paths that cannot leave their directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '@img/shared/testing';
import { imagePath, jobFilePaths, readLog, readLogTail } from '../../src/jobs/job-files.ts';

const id = 'ab'.repeat(16);

test('a log read in small pieces never splits a character, and the pieces add up to the file', async () => {
  const dir = await tempDir();
  try {
    const text = 'héllo wörld → ✓ 𝄞 done\n'.repeat(50);
    const path = join(dir, 'x.log');
    await writeFile(path, text);
    let offset = 0;
    let got = '';
    for (let i = 0; i < 10_000; i++) {
      const chunk = await readLog(path, offset, 7);
      if (chunk.next === offset) break;
      assert.ok(!chunk.text.includes('\uFFFD'), `no broken character at ${offset}`);
      got += chunk.text;
      offset = chunk.next;
    }
    assert.equal(got, text);
    assert.deepEqual(await readLog(join(dir, 'missing.log'), 0, 10), { text: '', next: 0, size: 0 });
    const tail = await readLogTail(path, 100);
    assert.ok(tail.truncated);
    assert.ok(text.endsWith(tail.text) && tail.text.startsWith('héllo'), 'the tail starts on a line');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('image paths: plain names inside the job directory only', async () => {
  const dir = await tempDir();
  try {
    const { imageDir } = jobFilePaths(dir, id);
    await mkdir(imageDir, { recursive: true });
    await writeFile(join(imageDir, 'image.tar.zst'), 'x');
    await writeFile(join(dir, 'secret'), 'secret');
    await symlink(join(dir, 'secret'), join(imageDir, 'link'));
    assert.equal(await imagePath(dir, id, 'image.tar.zst'), join(imageDir, 'image.tar.zst'));
    for (const bad of ['../secret', '..', '.', '/etc/passwd', 'a/../../secret', 'link', 'missing', '', 'image.tar.zst\0x']) {
      assert.equal(await imagePath(dir, id, bad), undefined, `refused: ${JSON.stringify(bad)}`);
    }
    assert.throws(() => jobFilePaths(dir, '../../etc'), /32 lowercase hex/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('only a regular file is served as an image: a FIFO (which would hang its reader), a link or a folder is not', async () => {
  const dir = await tempDir();
  try {
    const { imageDir } = jobFilePaths(dir, id);
    await mkdir(imageDir, { recursive: true });
    await writeFile(join(imageDir, 'good.raw'), 'disk');
    execFileSync('mkfifo', [join(imageDir, 'fifo.raw')]);
    await symlink(join(imageDir, 'good.raw'), join(imageDir, 'link.raw'));
    await mkdir(join(imageDir, 'dir.raw'));
    assert.equal(await imagePath(dir, id, 'good.raw'), join(imageDir, 'good.raw'));
    for (const name of ['fifo.raw', 'link.raw', 'dir.raw']) assert.equal(await imagePath(dir, id, name), undefined, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
