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
