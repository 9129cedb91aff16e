// The store as a local directory: the embedded default, one host's data directory (or one shared by
// every service of a single-host install). It keeps the data directory's rules for hostile input:
// - a path is only ever made from a layout key (assertKey), under the store's root;
// - nothing is followed: files are opened with O_NOFOLLOW, every folder on the way is checked by
//   lstat to be a real folder, and an opened file's real path must lie under the root;
// - only regular files are read (a FIFO would hang the reader, a device would never end);
// - writes go to a new file (O_EXCL) beside the target and are renamed over it when complete, so a
//   reader never sees half an object.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, realpath, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { assertKey, assertPrefix, checkRange, type ByteRange, type ObjectBody, type PresignOptions, type Storage, type StoredObject } from './storage.ts';

const TMP_PREFIX = '.tmp-';

export class LocalStorage implements Storage {
  readonly kind = 'local' as const;
  private realRoot?: string;

  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    this.realRoot = await realpath(this.root);
  }

  private async rootReal(): Promise<string> {
    this.realRoot ??= await realpath(this.root);
    return this.realRoot;
  }

  /**
   * Makes (or finds) the folders above a key, each a real folder and not a link; returns the
   * target's path. `create: false` returns undefined when a folder is missing or is not a folder.
   */
  private async folders(key: string, create: boolean): Promise<string | undefined> {
    const parts = key.split('/');
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      if (create) await mkdir(dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      const st = await lstat(dir).catch(() => undefined);
      // Read as missing, refused for a write: a link or a file where a folder belongs.
      if (st && !st.isDirectory() && create) throw new Error(`the store's folder ${JSON.stringify(dir)} is not a folder (a link, or a file): refused`);
      if (!st?.isDirectory()) return undefined;
    }
    return join(this.root, key);
  }

  /** Opens a stored regular file, following nothing; undefined when it is missing or anything else. */
  private async openFile(key: string): Promise<FileHandle | undefined> {
    const path = await this.folders(assertKey(key), false);
    if (!path) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = await fh.stat();
      const real = await realpath(`/proc/self/fd/${fh.fd}`);
      if (st.isFile() && real.startsWith((await this.rootReal()) + sep)) return fh;
    } catch {
      /* closed below */
    }
    await fh.close();
    return undefined;
  }

  async put(key: string, body: Readable | Buffer | string): Promise<StoredObject> {
    const path = await this.folders(assertKey(key), true);
    const tmp = join(dirname(path!), `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      if (typeof body === 'string' || Buffer.isBuffer(body)) await fh.writeFile(body);
      else for await (const chunk of body) await fh.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer);
      await fh.chmod(0o644);
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await rename(tmp, path!);
    return (await this.stat(key))!;
  }

  async putFile(key: string, file: string): Promise<StoredObject> {
    const path = await this.folders(assertKey(key), true);
    const st = await lstat(file);
    if (!st.isFile()) throw new Error(`${file} is not a regular file: not stored`);
    try {
      await rename(file, path!);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Another file system: streamed across, then the original goes.
      const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      await this.put(key, fh.createReadStream());
      await rm(file, { force: true });
    }
    return (await this.stat(key))!;
  }

  async get(key: string, range?: ByteRange): Promise<ObjectBody | undefined> {
    const fh = await this.openFile(key);
    if (!fh) return undefined;
    try {
      const st = await fh.stat();
      const r = checkRange(range, st.size);
      // The stream owns the descriptor from here and closes it at its end or when destroyed.
      const body = fh.createReadStream(r ? { start: r.start, end: r.end } : {});
      return { key, size: st.size, modified: st.mtime, range: r, body };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async getBuffer(key: string, maxBytes: number): Promise<Buffer | undefined> {
    const fh = await this.openFile(key);
    if (!fh) return undefined;
    try {
      const st = await fh.stat();
      if (st.size > maxBytes) return undefined;
      const buf = Buffer.alloc(st.size);
      const { bytesRead } = await fh.read(buf, 0, st.size, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const fh = await this.openFile(key);
    if (!fh) return undefined;
    try {
      const st = await fh.stat();
      return { key, size: st.size, modified: st.mtime };
    } finally {
      await fh.close();
    }
  }

  async delete(key: string): Promise<void> {
    const path = await this.folders(assertKey(key), false);
    if (!path) return;
    // unlink removes a link itself, never what it points to.
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    for await (const _ of this.list(prefix)) n++;
    const bare = assertPrefix(prefix).slice(0, -1);
    if (bare === 'images' || bare === 'logs') {
      for await (const o of this.list(prefix)) await this.delete(o.key);
      return n;
    }
    const path = await this.folders(`${bare}/x`, false);
    // rm removes links it meets without following them; the folders above were checked.
    if (path) await rm(dirname(path), { recursive: true, force: true });
    return n;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const bare = assertPrefix(prefix).slice(0, -1);
    const top = bare === 'images' || bare === 'logs' ? join(this.root, bare) : await this.folders(`${bare}/x`, false).then((p) => p && dirname(p));
    if (!top) return;
    const st = await lstat(top).catch(() => undefined);
    if (!st?.isDirectory()) return;
    yield* this.walk(top, bare);
  }

  private async *walk(dir: string, keyPrefix: string): AsyncIterable<StoredObject> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const key = `${keyPrefix}/${e.name}`;
      if (e.isDirectory()) yield* this.walk(join(dir, e.name), key);
      else if (e.isFile()) {
        let ok = true;
        try {
          assertKey(key);
        } catch {
          ok = false;
        }
        const st = ok ? await lstat(join(dir, e.name)).catch(() => undefined) : undefined;
        if (st?.isFile()) yield { key, size: st.size, modified: st.mtime };
      }
    }
  }

  async copy(from: string, to: string): Promise<StoredObject> {
    const source = await this.openFile(from);
    if (!source) throw new Error(`no object ${from} to copy`);
    await source.close();
    const src = join(this.root, from);
    const path = await this.folders(assertKey(to), true);
    const tmp = join(dirname(path!), `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    // A hard link: instant, and it outlives the original's deletion; a copy across file systems.
    await link(src, tmp).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV') throw err;
      await copyFile(src, tmp, constants.COPYFILE_EXCL);
    });
    await rename(tmp, path!);
    return (await this.stat(to))!;
  }

  async presignedUrl(key: string, _opts: PresignOptions): Promise<string | undefined> {
    assertKey(key);
    return undefined;
  }
}
