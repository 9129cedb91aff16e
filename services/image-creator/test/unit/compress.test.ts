// The .zst a raw, loop or ISO image is delivered as: made by the zstd command from a descriptor this
// process opened, so a link where the image should be is refused, and the file it writes is new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdCompress } from '../../src/build/compress.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('an image compresses to a .zst whose size and sha256 are counted as written, and which decompresses to the image', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'img-zst-'));
  try {
    // Mostly zeros, as a disk is, with some noise.
    const image = Buffer.concat([Buffer.alloc(8 << 20), randomBytes(1 << 16), Buffer.alloc(4 << 20)]);
    await writeFile(join(dir, 'disk.raw'), image);
    const z = await zstdCompress(join(dir, 'disk.raw'), join(dir, 'disk.raw.zst'));
    const packed = await readFile(z.path);
    assert.equal(z.size, packed.length);
    assert.equal((await stat(z.path)).size, z.size);
    assert.equal(z.sha256, sha(packed));
    assert.ok(z.size < image.length / 20, `${z.size} bytes for ${image.length}`);
    assert.equal(sha(execFileSync('zstd', ['-q', '-d', '-c', z.path], { maxBuffer: 64 << 20 })), sha(image));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a link in the image\'s place is not followed, and an existing output name is not written through', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'img-zst-'));
  try {
    await writeFile(join(dir, 'secret'), 'host file');
    await symlink(join(dir, 'secret'), join(dir, 'disk.raw'));
    await assert.rejects(zstdCompress(join(dir, 'disk.raw'), join(dir, 'out.zst')), /ELOOP|symbolic link/);
    await writeFile(join(dir, 'real.raw'), Buffer.alloc(4096));
    await symlink(join(dir, 'secret'), join(dir, 'taken.zst'));
    await assert.rejects(zstdCompress(join(dir, 'real.raw'), join(dir, 'taken.zst')), /EEXIST/);
    assert.equal(await readFile(join(dir, 'secret'), 'utf8'), 'host file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('given where the file is sparse, the holes are compressed as zeros without being read, and the .zst is the whole image', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'img-zst-'));
  try {
    const mib = 1 << 20;
    // Written ranges at 0, inside, and at the very end; holes between them, one longer than zstd's feed.
    const data = [[0, randomBytes(3000)], [5 * mib + 17, randomBytes(mib + 5)], [9 * mib - 100, randomBytes(100)]] as const;
    const size = 9 * mib;
    const image = Buffer.alloc(size);
    for (const [at, b] of data) b.copy(image, at);
    const { open: openFile } = await import('node:fs/promises');
    const fh = await openFile(join(dir, 'disk.raw'), 'w');
    for (const [at, b] of data) await fh.write(b, 0, b.length, at);
    await fh.truncate(size);
    await fh.close();
    const holes: Array<[number, number]> = [[3000, 5 * mib + 17], [6 * mib + 22, 9 * mib - 100]];
    const z = await zstdCompress(join(dir, 'disk.raw'), join(dir, 'disk.raw.zst'), holes);
    assert.equal(z.sha256, sha(await readFile(z.path)));
    assert.equal(sha(execFileSync('zstd', ['-q', '-d', '-c', z.path], { maxBuffer: 64 << 20 })), sha(image));
    // Nothing hole-less: the same as reading the file.
    const plain = await zstdCompress(join(dir, 'disk.raw'), join(dir, 'plain.zst'), []);
    assert.equal(sha(execFileSync('zstd', ['-q', '-d', '-c', plain.path], { maxBuffer: 64 << 20 })), sha(image));
    // Holes that do not fit the file are refused, and no .zst is left.
    await assert.rejects(zstdCompress(join(dir, 'disk.raw'), join(dir, 'bad.zst'), [[0, size + 1]]), /holes do not fit/);
    await assert.rejects(stat(join(dir, 'bad.zst')), /ENOENT/);
    // A file shorter than its holes say.
    await assert.rejects(zstdCompress(join(dir, 'disk.raw'), join(dir, 'short.zst'), [[size + 10, size + 20]]), /holes do not fit/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
