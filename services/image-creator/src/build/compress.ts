// Step 4: the image as it is delivered. Disks and ISOs are mostly empty blocks and packed files, so
// raw, loop and the ISOs are kept zstd-compressed (a minimal bootable raw disk of 1.5 GiB downloads
// as a few hundred MB); qcow2 is compressed by qemu-img inside the sandbox (the file stays a qcow2).
// This runs after the boot check, on the file the host wrote when it took the build's output: it is
// opened here without following a link, and `zstd` reads the descriptor, never a path.
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
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

/** Compresses `src` (a host-written image) into `dest` (a new file); the bytes written are counted and hashed as they go. */
export async function zstdCompress(src: string, dest: string): Promise<Compressed> {
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
    if (!(await input.stat()).isFile()) throw new Error(`${src} is not a regular file`);
    const zstd = spawn('zstd', ['-q', `-${LEVEL}`, '-T0', '-c'], { stdio: [input.fd, 'pipe', 'pipe'] });
    let stderr = '';
    zstd.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4000) stderr += d; });
    const exited = new Promise<number | null>((resolve, reject) => {
      zstd.on('error', reject);
      zstd.on('close', (code) => resolve(code));
    });
    const count = meter();
    const [, code] = await Promise.all([pipeline(zstd.stdout!, count, output.createWriteStream()), exited]);
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
