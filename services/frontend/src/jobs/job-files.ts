// A job's files under the data directory shared with image-creator: its log and its image
// directory. Every path is built from a validated job id; the image's file name, which came over
// the broker, is checked to be a plain name and its real path to stay inside the image directory.
import { lstat, open, realpath, rm, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { DataLayout } from '@img/shared/layout';

export function jobFilePaths(dataDir: string, id: string) {
  return new DataLayout(dataDir).job(id);
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Up to `max` bytes of the log from `offset`. Stops before a UTF-8 character cut in two, so the
 * next read starts on a character; `next` is where that read starts.
 */
export async function readLog(path: string, offset: number, max: number): Promise<{ text: string; next: number; size: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return { text: '', next: offset, size: 0 };
  }
  try {
    const { size } = await fh.stat();
    if (offset >= size) return { text: '', next: Math.min(offset, size), size };
    const len = Math.min(size - offset, max);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, offset);
    let end = bytesRead;
    // Back off over a trailing partial character (continuation bytes 10xxxxxx after a lead byte).
    if (offset + end < size) {
      let i = end - 1;
      while (i >= 0 && end - i <= 4 && (buf[i]! & 0xc0) === 0x80) i--;
      if (i >= 0) {
        const lead = buf[i]!;
        const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (end - i < need) end = i;
      }
    }
    return { text: buf.subarray(0, end).toString('utf8'), next: offset + end, size };
  } finally {
    await fh.close();
  }
}

/** The end of the log, for the job page; starts on a line. */
export async function readLogTail(path: string, max: number): Promise<{ text: string; truncated: boolean; size: number }> {
  const size = await logSize(path);
  const from = Math.max(0, size - max);
  const { text } = await readLog(path, from, max);
  if (from === 0) return { text, truncated: false, size };
  const nl = text.indexOf('\n');
  return { text: nl >= 0 ? text.slice(nl + 1) : text, truncated: true, size };
}

/** The image's absolute path, or undefined when the name or the file would lead out of the image directory. */
export async function imagePath(dataDir: string, id: string, imagefile: string | undefined): Promise<string | undefined> {
  const layout = new DataLayout(dataDir);
  const path = imagefile === undefined ? undefined : layout.image(id, imagefile);
  if (!path) return undefined;
  const { imageDir } = layout.job(id);
  try {
    // Only image-creator writes there, and only regular files; anything else (a link, a FIFO that
    // would hang the reader, a device) is not served, whoever made it.
    const st = await lstat(path);
    if (!st.isFile()) return undefined;
    const [dir, file] = await Promise.all([realpath(imageDir), realpath(path)]);
    return file.startsWith(dir + sep) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the job's log and image directory, as IMG's delete() did. */
export async function removeJobFiles(dataDir: string, id: string): Promise<void> {
  const { log, failure, imageDir } = jobFilePaths(dataDir, id);
  await Promise.all([rm(log, { force: true }), rm(failure, { force: true }), rm(imageDir, { recursive: true, force: true })]);
}
