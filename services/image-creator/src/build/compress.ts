// Step 4: the image as it is delivered. Disks and ISOs are mostly empty blocks and packed files, so
// raw, loop and the ISOs are delivered zstd-compressed (a minimal bootable raw disk of 1.2 GB
// downloads as about 260 MB); qcow2 is compressed by qemu-img (the file stays a qcow2). The sandbox
// compresses them itself (build-in-sandbox.sh), and the host takes out the .zst: a quarter of the
// bytes to carry out of the container, where carrying the whole disk took seconds.
// What the .zst holds is the build's word only. The host reads it back here, as hostile input, while
// it takes the file out (sandbox-output.ts hands each chunk it writes to this sink too): the bytes go
// to `zstd -d` on its standard input, never as a path, and what comes out is counted against a byte
// limit as it streams (a small .zst can unpack to anything) and hashed, so the disk's size and sha256
// the job publishes are the host's own. When a boot check needs the disk itself, it is written sparse
// beside it. That work runs on a thread of its own (zstd-read-back-worker.ts), beside the take-out.
import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { ImageType } from '@img/shared/contracts';
import { ImgError } from '@img/shared/errors';
import type { ChunkSink } from '../sandbox-output.ts';

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

// The services run their TypeScript through tsx: so does the worker, whose first module registers it
// (a worker does not inherit the loader its parent was started with).
const WORKER_BOOT = new URL(`data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
await import(${JSON.stringify(new URL('./zstd-read-back-worker.ts', import.meta.url).href)});`)}`);

/** How far the take-out may run ahead of the read-back before it waits for it. */
const AHEAD_BYTES = 32 * 1048576;

/**
 * Reads a .zst as it streams past: each chunk written to it goes to `zstd -d`, and what comes out is
 * counted and hashed (and, with `disk`, written there: a new file, sparse where it is zeros). A stream
 * that is not zstd, is cut short, or unpacks to more than `maxBytes` is refused with
 * `build_output_invalid` naming `where`; a refused read-back leaves no disk.
 */
export class ZstdReadBack implements ChunkSink {
  private readonly started = Date.now();
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private readonly finished: Promise<{ size: number; sha256: string }>;
  private failure: Error | undefined;
  private posted = 0;
  private acked = 0;
  private waiting: Array<() => void> = [];
  private counted: ReadBack | undefined;
  /** The worker made the disk file (it says it is ready only once it has). */
  private diskMade = false;

  private constructor(private readonly o: { maxBytes: number; disk?: string; where: string }) {
    this.worker = new Worker(WORKER_BOOT, { workerData: o });
    let onReady!: () => void;
    let onDone!: (d: { size: number; sha256: string }) => void;
    let onFailed!: (err: Error) => void;
    this.ready = new Promise<void>((resolve) => { onReady = resolve; });
    this.finished = new Promise((resolve, reject) => { onDone = resolve; onFailed = reject; });
    this.finished.catch(() => {});
    const failed = (err: Error) => {
      this.failure ??= err;
      onFailed(this.failure);
      onReady();
      for (const w of this.waiting.splice(0)) w();
    };
    this.worker.on('message', (m: { ready?: true; acked?: number; done?: { size: number; sha256: string }; failed?: { message: string; build: boolean } }) => {
      if (m.ready) {
        this.diskMade = Boolean(o.disk);
        onReady();
      }
      if (m.acked !== undefined) {
        this.acked = m.acked;
        for (const w of this.waiting.splice(0)) w();
      }
      if (m.done) onDone(m.done);
      if (m.failed) failed(m.failed.build ? new ImgError('build_output_invalid', m.failed.message) : new Error(m.failed.message));
    });
    this.worker.on('error', (err) => failed(err));
    this.worker.on('exit', () => failed(new Error('the read-back of the image ended before it was done')));
  }

  static async start(o: { maxBytes: number; disk?: string; where: string }): Promise<ZstdReadBack> {
    const r = new ZstdReadBack(o);
    await r.ready;
    if (r.failure) {
      await r.abort();
      throw r.failure;
    }
    return r;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.worker.postMessage({ chunk });
    this.posted += chunk.length;
    while (this.posted - this.acked > AHEAD_BYTES && !this.failure) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failure) throw this.failure;
  }

  async end(): Promise<void> {
    try {
      if (this.failure) throw this.failure;
      this.worker.postMessage({ end: true });
      const d = await this.finished;
      this.counted = { ...d, seconds: (Date.now() - this.started) / 1000, ...(this.o.disk ? { disk: this.o.disk } : {}) };
      await this.worker.terminate();
    } catch (err) {
      await this.abort();
      throw this.failure ?? err;
    }
  }

  async abort(): Promise<void> {
    await this.worker.terminate();
    // The worker removes a disk it refused; one it was stopped in the middle of goes here.
    if (this.diskMade && !this.counted) await rm(this.o.disk!, { force: true });
  }

  /** What the .zst holds, once `end` has returned. */
  result(): ReadBack {
    if (!this.counted) throw new Error('the read-back has not ended');
    return this.counted;
  }
}
