// The read-back of a .zst (compress.ts), on a thread of its own: the chunks the main thread takes out
// of the build go to `zstd -d` here, and what comes out is counted against the limit, hashed and, when
// asked, written sparse as the disk, while the main thread goes on taking the file out.
// Messages in: { chunk } (in order), { end }. Out: { ready }, { acked: bytes }, { done: { size, sha256 } },
// { failed: { message, build } } (build: the stream's fault, not the host's).
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { writeSparse } from '../sandbox-output.ts';

const o = workerData as { maxBytes: number; where: string; disk?: string };
const port = parentPort!;
let out: FileHandle | undefined;
let ended = false;

class StreamFault extends Error {}

async function fail(err: Error, build: boolean): Promise<void> {
  if (ended) return;
  ended = true;
  zstd?.kill('SIGKILL');
  if (out) {
    await out.close().catch(() => {});
    out = undefined;
    await rm(o.disk!, { force: true });
  }
  port.postMessage({ failed: { message: err.message, build } });
}

let zstd: ReturnType<typeof spawn> | undefined;
try {
  // O_EXCL: a name nobody made before, so no link can sit there.
  if (o.disk) out = await open(o.disk, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
} catch (err) {
  await fail(err as Error, false);
}
if (!ended) {
  // zstd's own limit on the memory a frame may ask for stays at its default (128 MiB).
  const z = spawn('zstd', ['-q', '-d', '-c', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
  zstd = z;
  let stderr = '';
  let exitCode: number | null | undefined;
  // A zstd that stopped reading (it refused the stream, or was killed) says so by its exit code.
  z.stdin!.on('error', () => {});
  z.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 2000) stderr += d; });
  const exited = new Promise<number | null>((resolve, reject) => {
    z.on('error', reject);
    z.on('close', (code) => { exitCode = code; resolve(code); });
  });
  const notWhole = () => new StreamFault(`${o.where} is not a whole zstd stream (zstd: ${stderr.trim().split('\n').at(-1) ?? `exit ${exitCode}`})`);
  let written = 0;
  port.on('message', (m: { chunk?: Uint8Array; end?: true }) => {
    if (ended) return;
    if (m.chunk) {
      const n = m.chunk.length;
      // zstd ended before its input did: what it was given is no zstd stream.
      if (exitCode !== undefined) return void fail(notWhole(), true);
      z.stdin!.write(m.chunk, () => {
        written += n;
        port.postMessage({ acked: written });
      });
    } else if (m.end) {
      z.stdin!.end();
    }
  });
  port.postMessage({ ready: true });
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of z.stdout! as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > o.maxBytes) throw new StreamFault(`${o.where} unpacks to more than the limit of ${Math.floor(o.maxBytes / 1048576)} MiB for this image`);
      hash.update(chunk);
      if (out) await writeSparse(out, chunk, size - chunk.length);
    }
    if (await exited !== 0) throw notWhole();
    if (out) {
      await out.truncate(size);
      await out.close();
      out = undefined;
    }
    if (!ended) {
      ended = true;
      port.postMessage({ done: { size, sha256: hash.digest('hex') } });
    }
  } catch (err) {
    await fail(err as Error, err instanceof StreamFault);
  }
  port.close();
}
