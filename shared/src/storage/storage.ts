// Where images, logs and the small files beside them are kept: one interface, two implementations
// (a local directory, an S3-compatible object store), both held to one contract test suite
// (shared/test/storage/). Every object is named by a key of the layout module
// (`images/<id>/<file>`, `logs/<id>.log`); nothing else ever names a place in a store.
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  /** When it was written whole. */
  modified: Date;
}

/** Bytes `start` to `end`, both included (as in HTTP's Range). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectBody extends StoredObject {
  /** The bytes asked for, streamed: the reader must consume or destroy it. */
  body: Readable;
  /** The range the body holds; the whole object without one. */
  range: ByteRange | undefined;
}

export interface PresignOptions {
  expiresS: number;
  /** Offered as the download's file name (Content-Disposition). */
  filename?: string;
  contentType?: string;
}

export interface Storage {
  readonly kind: 'local' | 's3';
  /** Makes sure the store can be used (the bucket exists, the directory is there). */
  init(): Promise<void>;
  /**
   * Writes an object whole, streamed (never held in memory whole); until it is written, a reader
   * sees the object as it was before (or none), never a part.
   */
  put(key: string, body: Readable | Buffer | string, opts?: { contentType?: string }): Promise<StoredObject>;
  /**
   * Takes a host file the caller wrote (an image) into the store; the file is gone afterwards.
   * Local: moved into place without copying where it can be. S3: a multipart upload.
   */
  putFile(key: string, path: string, opts?: { contentType?: string }): Promise<StoredObject>;
  /** The object's bytes, all of them or a range; undefined when there is no such object. */
  get(key: string, range?: ByteRange): Promise<ObjectBody | undefined>;
  /** A small object read whole (a result, a failure report); undefined when missing or larger than `maxBytes`. */
  getBuffer(key: string, maxBytes: number): Promise<Buffer | undefined>;
  stat(key: string): Promise<StoredObject | undefined>;
  /** Removes the object; nothing happens when there is none. */
  delete(key: string): Promise<void>;
  /** Removes every object whose key starts with `prefix` (which ends with '/'); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Every object under `prefix` (which ends with '/'), in no promised order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** A second object with the same bytes (an identical request's image); replaces what `to` held. */
  copy(from: string, to: string): Promise<StoredObject>;
  /**
   * A URL that reads the object directly from the store for `expiresS` seconds, or undefined when
   * the store cannot hand one out (the local directory, an object store without a public address).
   */
  presignedUrl(key: string, opts: PresignOptions): Promise<string | undefined>;
}

export class RangeNotSatisfiable extends Error {
  constructor(readonly size: number) {
    super(`the range is outside the object of ${size} bytes`);
  }
}

/**
 * A key as the layout module makes them: a top folder, then names of letters, digits, '.', '_' and
 * '-' that start with a letter or digit (so no '.', '..' or hidden name), joined by '/'.
 */
const KEY = /^(images|logs)(\/[A-Za-z0-9][A-Za-z0-9._-]{0,199}){1,3}$/;

/** Throws unless `key` is a layout key: no path is ever built from anything else. */
export function assertKey(key: string): string {
  if (typeof key !== 'string' || key.length > 1024 || !KEY.test(key)) throw new Error(`not a storage key: ${JSON.stringify(key).slice(0, 200)}`);
  return key;
}

/** A prefix is a top folder or a key, followed by '/'. */
export function assertPrefix(prefix: string): string {
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : '';
  if (bare !== 'images' && bare !== 'logs') assertKey(bare);
  return prefix;
}

/** The range asked for, checked against the object's size. */
export function checkRange(range: ByteRange | undefined, size: number): ByteRange | undefined {
  if (!range) return undefined;
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start || range.start >= size) {
    throw new RangeNotSatisfiable(size);
  }
  return { start: range.start, end: Math.min(range.end, size - 1) };
}
