// The .zst a raw, loop or ISO image comes out of the sandbox as is the build's word only: the host
// reads it back through a descriptor it opened, bounded, and counts and hashes what it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBackZstd } from '../../src/build/compress.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MiB = 1 << 20;

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'img-zst-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A disk-like image (zeros with some noise) and its .zst, made by the zstd command as the sandbox makes it. */
async function packed(dir: string, image: Buffer): Promise<string> {
  await writeFile(join(dir, 'disk.raw'), image);
  execFileSync('zstd', ['-q', '-1', '-T0', '--rm', '-o', join(dir, 'disk.raw.zst'), join(dir, 'disk.raw')]);
  return join(dir, 'disk.raw.zst');
}

test('the size and sha256 of the image inside a .zst are counted by the host, and the disk written sparse when asked', async () => {
  await withDir(async (dir) => {
    const image = Buffer.concat([randomBytes(64 * 1024), Buffer.alloc(16 * MiB), randomBytes(1 << 16), Buffer.alloc(4 * MiB)]);
    const zst = await packed(dir, image);
    const counted = await readBackZstd(zst, { maxBytes: 64 * MiB, where: '/out/image.raw.zst' });
    assert.equal(counted.size, image.length);
    assert.equal(counted.sha256, sha(image));
    assert.equal(counted.disk, undefined);

    const disk = join(dir, 'disk.raw');
    const written = await readBackZstd(zst, { maxBytes: 64 * MiB, where: '/out/image.raw.zst', disk });
    assert.equal(written.disk, disk);
    assert.equal(written.sha256, sha(image));
    assert.deepEqual(await readFile(disk), image);
    const st = await stat(disk);
    assert.equal(st.size, image.length);
    assert.equal(st.mode & 0o7777, 0o644);
    assert.ok(st.blocks * 512 < image.length / 4, `${st.blocks * 512} bytes allocated for ${image.length}: the zeros are holes`);
  });
});

test('a .zst that unpacks past the image\'s limit is refused as the build\'s fault, and no disk is left', async () => {
  await withDir(async (dir) => {
    // 64 MiB of zeros pack into a few kilobytes.
    const zst = await packed(dir, Buffer.alloc(64 * MiB));
    assert.ok((await stat(zst)).size < 64 * 1024);
    const disk = join(dir, 'out.raw');
    await assert.rejects(readBackZstd(zst, { maxBytes: 8 * MiB, where: '/out/image.raw.zst', disk }),
      (err: Error & { code?: string }) => err.code === 'build_output_invalid' && /\/out\/image\.raw\.zst unpacks to more than the limit of 8 MiB/.test(err.message));
    await assert.rejects(stat(disk), /ENOENT/);
  });
});

test('a file that is not zstd, or a stream cut short, is refused naming the file', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'junk.zst'), randomBytes(4096));
    await assert.rejects(readBackZstd(join(dir, 'junk.zst'), { maxBytes: 64 * MiB, where: '/out/image.iso.zst' }),
      (err: Error & { code?: string }) => err.code === 'build_output_invalid' && /\/out\/image\.iso\.zst is not a whole zstd stream/.test(err.message));
    const zst = await packed(dir, randomBytes(2 * MiB));
    const whole = await readFile(zst);
    await writeFile(join(dir, 'cut.zst'), whole.subarray(0, whole.length >> 1));
    await assert.rejects(readBackZstd(join(dir, 'cut.zst'), { maxBytes: 64 * MiB, where: '/out/image.raw.zst' }), /not a whole zstd stream/);
  });
});

test('a link in place of the .zst is not followed, and an existing file is never overwritten as the disk', async () => {
  await withDir(async (dir) => {
    const zst = await packed(dir, randomBytes(MiB));
    await symlink(zst, join(dir, 'link.zst'));
    await assert.rejects(readBackZstd(join(dir, 'link.zst'), { maxBytes: 64 * MiB, where: '/out/image.raw.zst' }), /ELOOP|symbolic link/);
    await writeFile(join(dir, 'taken.raw'), 'keep');
    await assert.rejects(readBackZstd(zst, { maxBytes: 64 * MiB, where: '/out/image.raw.zst', disk: join(dir, 'taken.raw') }), /EEXIST/);
    assert.equal(await readFile(join(dir, 'taken.raw'), 'utf8'), 'keep');
  });
});
