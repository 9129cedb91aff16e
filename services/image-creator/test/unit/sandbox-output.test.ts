// Reading a build's output as hostile data: archives made here with the same tar library, holding
// what a hostile build could leave, are refused with a sentence that names the entry; a good one
// is written as a plain 0644 file with the right checksum, and stays sparse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { tempDir } from '@img/shared/testing';
import { takeFiles, type OutputRule } from '../../src/sandbox-output.ts';

type Entry = Partial<tar.Header> & { name: string; body?: Buffer };

async function archive(entries: Entry[]): Promise<Readable> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const read = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(h, body, cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await read;
  return Readable.from([Buffer.concat(chunks)]);
}

const image: OutputRule = { match: (n) => /^image\.[a-z0-9.]+$/.test(n), rename: () => 'img-test.raw', maxBytes: 1 << 20 };

async function take(entries: Entry[], rules: OutputRule[] = [image], extra: { dirs?: string[]; others?: 'refuse' | 'skip' } = {}) {
  const dir = await tempDir('img-take-');
  for (const d of extra.dirs ?? []) await mkdir(join(dir, d));
  try {
    const files = await takeFiles(await archive(entries), { destDir: dir, rules, where: '/out', ...extra });
    return { dir, files };
  } catch (err) {
    const left = readdirSync(dir);
    await rm(dir, { recursive: true, force: true });
    throw Object.assign(err as Error, { left });
  }
}

const refusedWith = async (entries: Entry[], pattern: RegExp) => {
  await assert.rejects(take(entries), (err: Error & { code?: string; left?: string[] }) => {
    assert.equal(err.code, 'build_output_invalid');
    assert.match(err.message, pattern);
    assert.deepEqual(err.left, [], 'nothing is left behind of a refused output');
    return true;
  });
};

test('a regular image is written as a plain 0644 file, set-id bits dropped, checksum computed on the way', async () => {
  const body = Buffer.from('disk image bytes\n');
  const { dir, files } = await take([{ name: './', type: 'directory' }, { name: './image.raw', type: 'file', mode: 0o6755, body }]);
  assert.equal(files.length, 1);
  assert.equal(files[0]!.path, join(dir, 'img-test.raw'));
  assert.equal(files[0]!.sha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(lstatSync(files[0]!.path).mode & 0o7777, 0o644);
  assert.deepEqual(readFileSync(files[0]!.path), body);
  await rm(dir, { recursive: true });
});

test('runs of zeros are not written: a sparse disk stays sparse on the host', async () => {
  const body = Buffer.alloc(1 << 20);
  body.write('boot sector', 0);
  body.write('end', body.length - 3);
  const { dir, files } = await take([{ name: 'image.raw', type: 'file', body }]);
  const st = lstatSync(files[0]!.path);
  assert.equal(st.size, body.length);
  assert.ok(st.blocks * 512 < body.length / 2, `${st.blocks * 512} bytes allocated for ${body.length}`);
  assert.deepEqual(readFileSync(files[0]!.path), body);
  await rm(dir, { recursive: true });
});

test('a symbolic link, hard link, FIFO, device or directory in place of the image is refused, naming it', async () => {
  await refusedWith([{ name: 'image.raw', type: 'symlink', linkname: '/etc/shadow' }], /a symbolic link at \/out\/image\.raw \(pointing to "\/etc\/shadow"\), not a regular file/);
  await refusedWith([{ name: 'a', type: 'file', body: Buffer.from('x') }, { name: 'image.raw', type: 'link', linkname: 'a' }], /a file at \/out\/a, which is not part of its output/);
  await refusedWith([{ name: 'image.raw', type: 'link', linkname: 'image.qcow2' }], /a hard link at \/out\/image\.raw/);
  await refusedWith([{ name: 'image.raw', type: 'fifo' }], /a FIFO \(named pipe\) at \/out\/image\.raw, not a regular file/);
  await refusedWith([{ name: 'image.raw', type: 'character-device', devmajor: 1, devminor: 5 }], /a character device at \/out\/image\.raw/);
  await refusedWith([{ name: 'image.raw', type: 'block-device', devmajor: 8, devminor: 0 }], /a block device at \/out\/image\.raw/);
  await refusedWith([{ name: 'image.raw/', type: 'directory' }], /a directory at \/out\/image\.raw, not a regular file/);
});

test('anything but the image is refused: an extra file, a set-uid binary, a device node, a second copy', async () => {
  await refusedWith([{ name: 'x', type: 'file', mode: 0o4755, body: Buffer.from('ELF') }], /a file at \/out\/x, which is not part of its output/);
  await refusedWith([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], /a character device at \/out\/null, which is not part of its output/);
  await refusedWith([{ name: 'result.json', type: 'symlink', linkname: '/root/.bashrc' }], /a symbolic link at \/out\/result\.json, which is not part of its output/);
  await refusedWith([{ name: 'image.raw', type: 'file', body: Buffer.from('a') }, { name: './image.raw', type: 'file', body: Buffer.from('b') }], /holds \/out\/image\.raw twice/);
  await refusedWith([{ name: '../image.raw', type: 'file', body: Buffer.from('a') }], /which is not part of its output/);
  await refusedWith([{ name: 'image.raw', type: 'file', body: Buffer.from('a') }, { name: 'image.x', type: 'file', body: Buffer.from('b') }], /holds two images, \/out\/image\.raw and \/out\/image\.x/);
});

test('an image larger than its limit is refused before a byte of it is written', async () => {
  await refusedWith([{ name: 'image.raw', type: 'file', body: Buffer.alloc((1 << 20) + 1) }], /more than the limit of 1 MiB/);
});

test('the cache offer: named files in their folder are taken, anything else passed over', async () => {
  const rules: OutputRule[] = [{ match: (n) => /^debs\/[a-z0-9.+-]+_[^/]+\.deb$/.test(n), maxBytes: 1 << 20 }];
  const { dir, files } = await take([
    { name: './', type: 'directory' }, { name: './debs/', type: 'directory' },
    { name: './debs/hostname_3.23_amd64.deb', type: 'file', body: Buffer.from('deb') },
    { name: './debs/evil.deb', type: 'symlink', linkname: '/etc/passwd' },
    { name: './stray', type: 'file', body: Buffer.from('?') },
  ], rules, { dirs: ['debs'], others: 'skip' });
  assert.deepEqual(files.map((f) => f.name), ['debs/hostname_3.23_amd64.deb']);
  assert.deepEqual(readdirSync(join(dir, 'debs')), ['hostname_3.23_amd64.deb']);
  await rm(dir, { recursive: true });
});
