// Files image-creator itself keeps beside a job (its result, its failure report). Written and read
// without following a link and, when read, only up to a size: defence in depth, since the build can
// no longer write anywhere on the host.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export async function writeHostFile(path: string, data: string): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** The file's JSON, or undefined when it is missing, not a regular file, larger than `maxBytes` or not JSON. */
export async function readHostJson<T>(path: string, maxBytes = 1 << 20): Promise<T | undefined> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > maxBytes) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return JSON.parse(buf.subarray(0, bytesRead).toString('utf8')) as T;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}
