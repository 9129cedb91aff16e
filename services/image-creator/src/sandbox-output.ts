// Takes files out of a build as data. The build's output directory never touches the host: image-creator
// asks the container for a tar stream of it (docker exec of the builder image's own tar, reading a
// tmpfs the host never mounts), and this module reads that stream as hostile input:
// - only regular files whose names a rule expects are taken; a link, a FIFO, a device, a directory
//   where a file belongs, or any name no rule expects is refused with an error naming it;
// - each file is written by the host into a directory the host made, opened with O_EXCL|O_NOFOLLOW,
//   mode 0644 whatever the archive says (no set-id bit survives), and held to its rule's byte limit
//   as it streams (the tar header's size is checked before a byte is read);
// - runs of zeros are skipped rather than written, so a sparse disk image stays sparse on the host;
// - its SHA-256 is computed on the way, so the host never reads it again to checksum it; a rule may
//   hand each chunk to a sink as well (the .zst of a disk is unpacked and counted as it arrives).
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { ImgError } from '@img/shared/errors';

export interface OutputRule {
  /** The entry's path in the archive, without a leading './'. */
  match: (name: string) => boolean;
  /** The host file it becomes, inside `destDir`: a name, or a name in one of `dirs`. */
  rename?: (name: string) => string;
  maxBytes: number;
  /** Also reads the file as it is written: every chunk, then its end (a refused file: abort). */
  sink?: (name: string) => Promise<ChunkSink | undefined>;
}

/** Reads a taken file as it streams past; `end` or `write` throws to refuse it. */
export interface ChunkSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
  abort(): Promise<void>;
}

export interface TakenFile {
  /** The entry's name in the build's output. */
  name: string;
  /** The host path written. */
  path: string;
  size: number;
  sha256: string;
}

export interface TakeOptions {
  /** A directory the host created and the build never saw. */
  destDir: string;
  rules: OutputRule[];
  /** Directories the archive may hold on the way to the files (their own entries carry nothing); the host makes them in destDir. */
  dirs?: string[];
  /** Everything else: refused (the default, for the final image), or passed over (the cache offer). */
  others?: 'refuse' | 'skip';
  /** Where the build put them, for the error messages: '/out'. */
  where: string;
}

const TYPE_WORDS: Record<string, string> = {
  symlink: 'a symbolic link', link: 'a hard link', fifo: 'a FIFO (named pipe)', 'character-device': 'a character device',
  'block-device': 'a block device', directory: 'a directory', 'contiguous-file': 'a contiguous file',
};
const ZERO = Buffer.alloc(64 * 1024);
const WRITE_BLOCK = 1024 * 1024;

function refuse(message: string): ImgError {
  return new ImgError('build_output_invalid', message);
}

/**
 * Reads the tar stream to its end and writes what the rules take; throws `build_output_invalid` on
 * anything else, and then leaves nothing of what it had written.
 */
export async function takeFiles(stream: Readable, o: TakeOptions): Promise<TakenFile[]> {
  const extract = tar.extract();
  const taken: TakenFile[] = [];
  const seen = new Set<string>();
  const dirs = new Set(['', ...(o.dirs ?? [])]);
  const where = (name: string) => `${o.where}/${name}`;
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
      if (h.type === 'directory' && dirs.has(name)) {
        entry.resume();
        continue;
      }
      const rule = o.rules.find((r) => r.match(name));
      if (!rule) {
        if (o.others === 'skip') {
          entry.resume();
          continue;
        }
        const what = h.type === 'file' ? 'a file' : (TYPE_WORDS[h.type ?? ''] ?? `an entry of type ${h.type}`);
        throw refuse(`the build left ${what} at ${where(name)}, which is not part of its output; only the image itself may be there`);
      }
      if (h.type !== 'file') {
        const detail = h.type === 'symlink' || h.type === 'link' ? ` (pointing to ${JSON.stringify(h.linkname ?? '')})` : '';
        throw refuse(`the build left ${TYPE_WORDS[h.type ?? ''] ?? `an entry of type ${h.type}`} at ${where(name)}${detail}, not a regular file; only regular files are taken from a build`);
      }
      if (seen.has(name)) throw refuse(`the build's output holds ${where(name)} twice`);
      seen.add(name);
      const size = h.size ?? 0;
      if (size > rule.maxBytes) {
        throw refuse(`${where(name)} is ${Math.ceil(size / 1048576)} MiB, more than the limit of ${Math.floor(rule.maxBytes / 1048576)} MiB`);
      }
      const file = rule.rename ? rule.rename(name) : name;
      const before = taken.find((t) => t.path === join(o.destDir, file));
      if (before) throw refuse(`the build's output holds two images, ${where(before.name)} and ${where(name)}`);
      // A name, or a name in one of the listed directories (which the host made in destDir beforehand).
      const parts = file.split('/');
      const parent = parts.slice(0, -1).join('/');
      if (parts.some((p) => p === '' || p === '.' || p === '..') || (parent !== '' && !dirs.has(parent))) {
        throw refuse(`${where(name)} is not a name the build's output may have`);
      }
      const path = join(o.destDir, file);
      taken.push({ name, path, size, ...await writeEntry(entry as AsyncIterable<Buffer>, path, size, rule.maxBytes, await rule.sink?.(name)) });
    }
  } catch (err) {
    // A refused output is refused whole: nothing taken from it stays.
    await Promise.all(taken.map((f) => rm(f.path, { force: true })));
    throw err;
  } finally {
    stream.unpipe(extract);
    stream.destroy();
    extract.destroy();
  }
  return taken;
}

async function writeEntry(entry: AsyncIterable<Buffer>, path: string, size: number, maxBytes: number, sink: ChunkSink | undefined): Promise<{ sha256: string }> {
  // O_EXCL: the name is new, so no link can sit there; O_NOFOLLOW for good measure.
  const fh: FileHandle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644).catch(async (err: unknown) => {
    await sink?.abort();
    throw err;
  });
  const hash = createHash('sha256');
  let pos = 0;
  // The stream comes in pieces of a few KiB (the engine's frames): they are written, and handed to
  // the sink, a MiB at a time, not one write each.
  let parts: Buffer[] = [];
  let held = 0;
  const flush = async () => {
    if (held === 0) return;
    const block = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    const at = pos - held;
    parts = [];
    held = 0;
    await Promise.all([writeSparse(fh, block, at), sink?.write(block)]);
  };
  try {
    for await (const chunk of entry) {
      pos += chunk.length;
      if (pos > maxBytes || pos > size) throw refuse(`an output file grew past its declared size while it was read`);
      hash.update(chunk);
      parts.push(chunk);
      held += chunk.length;
      if (held >= WRITE_BLOCK) await flush();
    }
    await flush();
    if (pos !== size) throw refuse('an output file ended before its declared size');
    await fh.truncate(size);
    await fh.chmod(0o644);
    await sink?.end();
  } catch (err) {
    await sink?.abort();
    await fh.close().catch(() => {});
    await rm(path, { force: true });
    throw err;
  }
  await fh.close();
  return { sha256: hash.digest('hex') };
}

/** Writes a chunk at its offset, leaving out the blocks of it that are all zeros: the file stays sparse there. */
export async function writeSparse(fh: FileHandle, chunk: Buffer, offset: number): Promise<void> {
  // Each run of blocks with data in them is one write.
  let run = -1;
  for (let start = 0; start < chunk.length; start += ZERO.length) {
    const end = Math.min(chunk.length, start + ZERO.length);
    const zero = chunk.subarray(start, end).equals(ZERO.subarray(0, end - start));
    if (!zero && run < 0) run = start;
    if (zero && run >= 0) {
      await fh.write(chunk, run, start - run, offset + run);
      run = -1;
    }
  }
  if (run >= 0) await fh.write(chunk, run, chunk.length - run, offset + run);
}
