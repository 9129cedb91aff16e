// Step 4: the image as it is delivered. Disks and ISOs are mostly empty blocks and packed files, so
// raw, loop and the ISOs are kept zstd-compressed (a minimal bootable raw disk of 1.5 GiB downloads
// as a few hundred MB); qcow2 is compressed by qemu-img inside the sandbox (the file stays a qcow2).
// This runs after the boot check, on the file the host wrote when it took the build's output: it is
// opened here without following a link, and read through that descriptor (by `zstd` itself, or by
// this process when it knows the file's holes), never through a path.
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import type { ImageType } from '@img/shared/contracts';
import { meter } from '@img/shared/streams';

/** The image types delivered as a .zst file. */
export const ZSTD_TYPES: readonly ImageType[] = ['raw', 'loop', 'livecd', 'liveusb'];

/**
 * zstd's fastest regular level. On a minimal bootable raw disk (1.2 GB) it took 0.65 of the time of
 * zstd's default level 3 for a file 4 % larger (259 against 249 MB): the compression is paid on every
 * build, the 4 % only on a download.
 */
const LEVEL = 1;

export interface Compressed {
  path: string;
  size: number;
  sha256: string;
  seconds: number;
}

/** What zstd is given in one write: a read of the file, or zeros for a hole. */
const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);

/**
 * Compresses `src` (a host-written image) into `dest` (a new file); the bytes written are counted and
 * hashed as they go. With `holes` (where the host left the file sparse, sandbox-output.ts), zstd is
 * fed the written ranges read from the file and zeros from memory for the holes: reading a hole makes
 * the kernel allocate and clear a page for each page of it, which on a gigabyte disk image took 5 of
 * the 7 seconds the compression took.
 */
export async function zstdCompress(src: string, dest: string, holes?: ReadonlyArray<readonly [number, number]>): Promise<Compressed> {
  const started = Date.now();
  const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  let output;
  try {
    // O_EXCL: a name nobody made before, so no link can sit there (and one that does is left alone).
    output = await open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    await input.close();
    throw err;
  }
  try {
    const st = await input.stat();
    if (!st.isFile()) throw new Error(`${src} is not a regular file`);
    const zstd = spawn('zstd', ['-q', `-${LEVEL}`, '-T0', '-c'], { stdio: [holes ? 'pipe' : input.fd, 'pipe', 'pipe'] });
    const feeding = holes ? feed(input, st.size, holes, zstd.stdin!) : Promise.resolve();
    let stderr = '';
    zstd.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4000) stderr += d; });
    const exited = new Promise<number | null>((resolve, reject) => {
      zstd.on('error', reject);
      zstd.on('close', (code) => resolve(code));
    });
    const count = meter();
    const [, code] = await Promise.all([pipeline(zstd.stdout!, count, output.createWriteStream()), exited, feeding]);
    if (code !== 0) throw new Error(`zstd exited with ${code}: ${stderr.trim()}`);
    return { path: dest, size: count.bytes, sha256: count.sha256(), seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  } finally {
    await input.close();
    await output.close().catch(() => {});
  }
}

/** Writes the file to zstd's input: its ranges outside `holes` read from it, zeros for the holes. */
async function feed(input: FileHandle, size: number, holes: ReadonlyArray<readonly [number, number]>, sink: Writable): Promise<void> {
  // A zstd that stops (killed, failed) closes its input: the write fails with EPIPE, seen as the close.
  sink.on('error', () => {});
  const write = async (b: Buffer) => {
    if (sink.destroyed) throw new Error('zstd stopped reading its input');
    if (sink.write(b)) return;
    await new Promise<void>((resolve, reject) => {
      const drained = () => { sink.off('close', closed); resolve(); };
      const closed = () => { sink.off('drain', drained); reject(new Error('zstd stopped reading its input')); };
      sink.once('drain', drained);
      sink.once('close', closed);
    });
  };
  try {
    let pos = 0;
    const ranges = [...holes, [size, size] as const];
    for (const [start, end] of ranges) {
      if (start < pos || end < start || end > size) throw new Error(`the image's holes do not fit it (${start}-${end} in ${size} bytes)`);
      // The written range before the hole, from the file.
      while (pos < start) {
        // A buffer of its own each time: the stream may still hold the last one.
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, start - pos));
        const { bytesRead } = await input.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) throw new Error(`the image ended at ${pos} bytes, before its ${size}`);
        await write(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      for (; pos < end; pos += Math.min(CHUNK, end - pos)) await write(ZEROS.subarray(0, Math.min(CHUNK, end - pos)));
    }
    sink.end();
  } catch (err) {
    sink.destroy();
    throw err;
  }
}
