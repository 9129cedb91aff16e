// Step 4: the image as it is delivered. Disks and ISOs are mostly empty blocks and packed files, so
// raw, loop and the ISOs are delivered zstd-compressed (a minimal bootable raw disk of 1.2 GB
// downloads as about 260 MB); qcow2 is compressed by qemu-img (the file stays a qcow2). The sandbox
// compresses them itself (build-in-sandbox.sh), and the host takes out the .zst: a quarter of the
// bytes to carry out of the container, where carrying the whole disk took seconds.
// What the .zst holds is the build's word only. The host reads it back here, as hostile input: the
// file it wrote when it took the output, opened without following a link and given to `zstd -d` as a
// descriptor, never a path; what comes out is counted against a byte limit as it streams (a small
// .zst can unpack to anything) and hashed, so the disk's size and sha256 the job publishes are the
// host's own. When a boot check needs the disk itself, it is written sparse beside it.
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ImageType } from '@img/shared/contracts';
import { ImgError } from '@img/shared/errors';
import { writeSparse } from '../sandbox-output.ts';

/** The image types delivered as a .zst file, compressed in the sandbox. */
export const ZSTD_TYPES: readonly ImageType[] = ['raw', 'loop', 'livecd', 'liveusb'];

export interface ReadBack {
  /** The image inside the .zst: its size and sha256, counted by the host. */
  size: number;
  sha256: string;
  /** The disk written out, when one was asked for. */
  disk?: string;
  seconds: number;
}

/**
 * Decompresses the host-written `src` (.zst), counting and hashing what it holds; refuses a stream
 * that is not zstd, or that unpacks to more than `maxBytes`, with `build_output_invalid`. With
 * `disk`, the image is also written there (a new file, sparse where it is zeros).
 */
export async function readBackZstd(src: string, o: { maxBytes: number; disk?: string; where: string }): Promise<ReadBack> {
  const started = Date.now();
  const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  let out: FileHandle | undefined;
  try {
    if (!(await input.stat()).isFile()) throw new ImgError('build_output_invalid', `${o.where} is not a regular file`);
    // O_EXCL: a name nobody made before, so no link can sit there.
    if (o.disk) out = await open(o.disk, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    // zstd's own limit on the memory a frame may ask for stays at its default (128 MiB).
    const zstd = spawn('zstd', ['-q', '-d', '-c', '--no-progress'], { stdio: [input.fd, 'pipe', 'pipe'] });
    let stderr = '';
    zstd.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 2000) stderr += d; });
    const exited = new Promise<number | null>((resolve, reject) => {
      zstd.on('error', reject);
      zstd.on('close', (code) => resolve(code));
    });
    exited.catch(() => {});
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of zstd.stdout! as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > o.maxBytes) {
          throw new ImgError('build_output_invalid', `${o.where} unpacks to more than the limit of ${Math.floor(o.maxBytes / 1048576)} MiB for this image`);
        }
        hash.update(chunk);
        if (out) await writeSparse(out, chunk, size - chunk.length);
      }
    } catch (err) {
      zstd.kill('SIGKILL');
      throw err;
    }
    const code = await exited;
    if (code !== 0) {
      throw new ImgError('build_output_invalid', `${o.where} is not a whole zstd stream (zstd: ${stderr.trim().split('\n').at(-1) ?? `exit ${code}`})`);
    }
    if (out) {
      await out.truncate(size);
      await out.close();
      out = undefined;
    }
    return { size, sha256: hash.digest('hex'), seconds: (Date.now() - started) / 1000, ...(o.disk ? { disk: o.disk } : {}) };
  } catch (err) {
    if (out) {
      await out.close().catch(() => {});
      await rm(o.disk!, { force: true });
    }
    throw err;
  } finally {
    await input.close();
  }
}
