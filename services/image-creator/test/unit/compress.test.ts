// The .zst a raw, loop or ISO image comes out of the sandbox as is the build's word only: the host
// unpacks it as it takes it out of the build's tar stream, bounded, and counts and hashes what it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { ZstdReadBack } from '../../src/build/compress.ts';
import { takeFiles } from '../../src/sandbox-output.ts';

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

/** A disk-like image's .zst, made by the zstd command as the sandbox makes it. */
async function packed(dir: string, image: Buffer): Promise<Buffer> {
  await writeFile(join(dir, 'disk.raw'), image);
  execFileSync('zstd', ['-q', '-1', '-T0', '--rm', '-o', join(dir, 'disk.raw.zst'), join(dir, 'disk.raw')]);
  const zst = await readFile(join(dir, 'disk.raw.zst'));
  await rm(join(dir, 'disk.raw.zst'));
  return zst;
}

/** The build's output as the host reads it: a tar stream holding /out/image.raw.zst. */
function outputStream(zst: Buffer): Readable {
  const pack = tar.pack();
  pack.entry({ name: './image.raw.zst', size: zst.length }, zst);
  pack.finalize();
  return Readable.from(pack as AsyncIterable<Buffer>);
}

/** Takes the .zst out into `dir/out` as sandbox-run does, unpacking it on the way. */
async function takeOut(dir: string, zst: Buffer, o: { maxBytes: number; disk?: string }) {
  let readBack: ZstdReadBack | undefined;
  const files = await takeFiles(outputStream(zst), {
    destDir: dir,
    where: '/out',
    rules: [{
      match: (n) => n === 'image.raw.zst', rename: () => 'img.raw.zst', maxBytes: 512 * MiB,
      sink: async (n) => (readBack = await ZstdReadBack.start({ maxBytes: o.maxBytes, where: `/out/${n}`, ...(o.disk ? { disk: o.disk } : {}) })),
    }],
  });
  return { files, counted: readBack!.result() };
}

test('the size and sha256 of the image inside a .zst are counted as it is taken out, and the disk written sparse when asked', async () => {
  await withDir(async (dir) => {
    const image = Buffer.concat([randomBytes(64 * 1024), Buffer.alloc(16 * MiB), randomBytes(1 << 16), Buffer.alloc(4 * MiB)]);
    const zst = await packed(dir, image);
    const { files, counted } = await takeOut(dir, zst, { maxBytes: 64 * MiB });
    assert.equal(counted.size, image.length);
    assert.equal(counted.sha256, sha(image));
    assert.equal(counted.disk, undefined);
    assert.deepEqual(await readFile(files[0]!.path), zst, 'the .zst itself is taken out as it was');
    await rm(files[0]!.path);

    const disk = join(dir, 'disk.raw');
    const written = (await takeOut(dir, zst, { maxBytes: 64 * MiB, disk })).counted;
    assert.equal(written.disk, disk);
    assert.equal(written.sha256, sha(image));
    assert.deepEqual(await readFile(disk), image);
    const st = await stat(disk);
    assert.equal(st.size, image.length);
    assert.equal(st.mode & 0o7777, 0o644);
    assert.ok(st.blocks * 512 < image.length / 4, `${st.blocks * 512} bytes allocated for ${image.length}: the zeros are holes`);
  });
});

test('a .zst that unpacks past the image\'s limit is refused as the build\'s fault, and neither it nor a disk is left', async () => {
  await withDir(async (dir) => {
    // 64 MiB of zeros pack into a few kilobytes.
    const zst = await packed(dir, Buffer.alloc(64 * MiB));
    assert.ok(zst.length < 64 * 1024);
    const disk = join(dir, 'out.raw');
    await assert.rejects(takeOut(dir, zst, { maxBytes: 8 * MiB, disk }),
      (err: Error & { code?: string }) => err.code === 'build_output_invalid' && /\/out\/image\.raw\.zst unpacks to more than the limit of 8 MiB/.test(err.message));
    assert.deepEqual(await readdir(dir), [], 'the refused output is gone whole');
  });
});

test('a file that is not zstd, or a stream cut short, is refused naming the file', async () => {
  await withDir(async (dir) => {
    await assert.rejects(takeOut(dir, randomBytes(4 * MiB), { maxBytes: 64 * MiB }),
      (err: Error & { code?: string }) => err.code === 'build_output_invalid' && /\/out\/image\.raw\.zst is not a whole zstd stream/.test(err.message));
    const whole = await packed(dir, randomBytes(2 * MiB));
    await assert.rejects(takeOut(dir, whole.subarray(0, whole.length >> 1), { maxBytes: 64 * MiB }), /\/out\/image\.raw\.zst is not a whole zstd stream/);
    assert.deepEqual(await readdir(dir), []);
  });
});

test('an existing file is never overwritten as the disk', async () => {
  await withDir(async (dir) => {
    const zst = await packed(dir, randomBytes(MiB));
    await writeFile(join(dir, 'taken.raw'), 'keep');
    await assert.rejects(takeOut(dir, zst, { maxBytes: 64 * MiB, disk: join(dir, 'taken.raw') }), /EEXIST/);
    assert.equal(await readFile(join(dir, 'taken.raw'), 'utf8'), 'keep');
  });
});
