// The store as an S3-compatible object store, for build hosts that share no disk: the AWS SDK's
// client, lib-storage's multipart upload for images of many GB (streamed in parts, never held in
// memory whole), ranged GETs for resumable downloads, and presigned URLs when the store has an
// address the people downloading can reach.
import { createReadStream } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand,
  DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, UploadPartCopyCommand, AbortMultipartUploadCommand, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertKey, assertPrefix, checkRange, type ByteRange, type ObjectBody, type PresignOptions, type Storage, type StoredObject } from './storage.ts';

export interface S3Settings {
  endpoint?: string | undefined;
  /** Where people reach the store, for presigned download URLs; none: downloads go through the frontend. */
  publicEndpoint?: string | undefined;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Objects larger than this are copied part by part (S3 copies at most 5 GiB at once). */
  multipartCopyAbove?: number;
}

const MiB = 1024 * 1024;
/** S3 allows 10,000 parts: 16 MiB parts carry 160 GB, and larger files get larger parts. */
const MIN_PART = 16 * MiB;
const MAX_PARTS = 9000;
/** The largest single copy S3 allows. */
const COPY_LIMIT = 5 * 1024 * MiB;
/** Part size of a multipart copy. */
const COPY_PART = 1024 * MiB;

export class S3Storage implements Storage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly publicClient: S3Client | undefined;
  private readonly bucket: string;

  constructor(private readonly settings: S3Settings) {
    const base = (endpoint: string | undefined): S3ClientConfig => ({
      region: settings.region,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      forcePathStyle: settings.forcePathStyle,
      // Checksums only where S3 asks for them: S3-compatible stores do not all know the newer ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(endpoint ? { endpoint } : {}),
    });
    this.client = new S3Client(base(settings.endpoint));
    this.publicClient = settings.publicEndpoint ? new S3Client(base(settings.publicEndpoint)) : undefined;
    this.bucket = settings.bucket;
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw describe(err, `the bucket ${this.bucket}`);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((e: unknown) => {
        if ((e as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw describe(e, `creating the bucket ${this.bucket}`);
      });
    }
  }

  async put(key: string, body: Readable | Buffer | string, opts: { contentType?: string } = {}): Promise<StoredObject> {
    assertKey(key);
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.from(body), ContentType: opts.contentType }));
    } else {
      await this.upload(key, body, MIN_PART, opts.contentType);
    }
    return (await this.stat(key))!;
  }

  async putFile(key: string, path: string, opts: { contentType?: string } = {}): Promise<StoredObject> {
    assertKey(key);
    const st = await lstat(path);
    if (!st.isFile()) throw new Error(`${path} is not a regular file: not stored`);
    await this.upload(key, createReadStream(path), Math.max(MIN_PART, Math.ceil(st.size / MAX_PARTS)), opts.contentType);
    await rm(path, { force: true });
    return (await this.stat(key))!;
  }

  private async upload(key: string, body: Readable, partSize: number, contentType: string | undefined): Promise<void> {
    const up = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      partSize,
      // Two parts in flight at most: memory stays at a few tens of MiB whatever the image's size.
      queueSize: 2,
      leavePartsOnError: false,
    });
    await up.done();
  }

  async get(key: string, range?: ByteRange): Promise<ObjectBody | undefined> {
    assertKey(key);
    let head: StoredObject | undefined;
    let r: ByteRange | undefined;
    if (range) {
      // The size decides whether the range can be answered, as it does for the local store.
      head = await this.stat(key);
      if (!head) return undefined;
      r = checkRange(range, head.size);
    }
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(r ? { Range: `bytes=${r.start}-${r.end}` } : {}) }));
      const total = r ? Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1] ?? head!.size) : Number(out.ContentLength ?? 0);
      return { key, size: total, modified: out.LastModified ?? new Date(0), range: r, body: out.Body as Readable };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw describe(err, key);
    }
  }

  async getBuffer(key: string, maxBytes: number): Promise<Buffer | undefined> {
    const st = await this.stat(key);
    if (!st || st.size > maxBytes) return undefined;
    const got = await this.get(key);
    if (!got) return undefined;
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of got.body) {
      n += (c as Buffer).length;
      if (n > maxBytes) {
        got.body.destroy();
        return undefined;
      }
      parts.push(c as Buffer);
    }
    return Buffer.concat(parts);
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    assertKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: Number(out.ContentLength ?? 0), modified: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw describe(err, key);
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      n += batch.length;
      batch = [];
    };
    for await (const o of this.list(prefix)) {
      batch.push(o.key);
      if (batch.length === 1000) await flush();
    }
    await flush();
    return n;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    assertPrefix(prefix);
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of out.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: Number(o.Size ?? 0), modified: o.LastModified ?? new Date(0) };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async copy(from: string, to: string): Promise<StoredObject> {
    assertKey(to);
    const src = await this.stat(from);
    if (!src) throw new Error(`no object ${from} to copy`);
    const source = `${this.bucket}/${from}`;
    if (src.size <= (this.settings.multipartCopyAbove ?? COPY_LIMIT)) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source }));
      return (await this.stat(to))!;
    }
    // Past 5 GiB S3 copies only part by part, inside the store (nothing passes through this host).
    const partSize = Math.max(Math.min(COPY_PART, this.settings.multipartCopyAbove ?? COPY_PART), 5 * MiB);
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }));
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let start = 0, n = 1; start < src.size; start += partSize, n++) {
        const end = Math.min(src.size, start + partSize) - 1;
        const out = await this.client.send(new UploadPartCopyCommand({
          Bucket: this.bucket, Key: to, UploadId, PartNumber: n, CopySource: source, CopySourceRange: `bytes=${start}-${end}`,
        }));
        parts.push({ ETag: out.CopyPartResult!.ETag!, PartNumber: n });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })).catch(() => {});
      throw err;
    }
    return (await this.stat(to))!;
  }

  async presignedUrl(key: string, opts: PresignOptions): Promise<string | undefined> {
    assertKey(key);
    if (!this.publicClient) return undefined;
    const disposition = opts.filename ? `attachment; filename="${opts.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"` : undefined;
    return getSignedUrl(this.publicClient, new GetObjectCommand({
      Bucket: this.bucket, Key: key,
      ...(disposition ? { ResponseContentDisposition: disposition } : {}),
      ...(opts.contentType ? { ResponseContentType: opts.contentType } : {}),
    }), { expiresIn: opts.expiresS });
  }

  /** Removes the bucket, which must be empty (tests make a bucket of their own). */
  async dropBucket(): Promise<void> {
    await this.client.send(new DeleteBucketCommand({ Bucket: this.bucket }));
  }

  destroy(): void {
    this.client.destroy();
    this.publicClient?.destroy();
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.name === 'NoSuchBucket' || e.$metadata?.httpStatusCode === 404;
}

/** The store's error with what was being done; never the credentials. */
function describe(err: unknown, what: string): Error {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return new Error(`object store: ${what}: ${e.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${e.message}`, { cause: err });
}

