// The store behind one interface (storage.ts), its two implementations, and the settings that choose
// one. Every service that keeps or serves a job's files takes a Storage from its composition root.
import { z } from 'zod';
import { env } from '../config/index.ts';
import { LocalStorage } from './local-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

export * from './storage.ts';
export { LocalStorage } from './local-storage.ts';
export { S3Storage, type S3Settings } from './s3-storage.ts';

/**
 * IMG_STORAGE: `local` (the default): images and logs under IMG_DATA_DIR, one folder shared by the
 * services of one host; `s3`: an S3-compatible object store, shared by hosts that share no disk.
 * IMG_S3_SECRET_KEY is never logged (configForLog blanks every *KEY* setting).
 */
export const storageEnv = {
  IMG_STORAGE: z.enum(['local', 's3']).default('local'),
  IMG_S3_ENDPOINT: env.optionalStr(),
  /** The store's address as people's browsers reach it: downloads are then redirected to a presigned URL. */
  IMG_S3_PUBLIC_ENDPOINT: env.optionalStr(),
  IMG_S3_BUCKET: env.str('img'),
  IMG_S3_REGION: env.str('us-east-1'),
  IMG_S3_ACCESS_KEY: env.optionalStr(),
  IMG_S3_SECRET_KEY: env.optionalStr(),
  /** Path-style URLs (http://host/bucket/key): what most S3-compatible servers expect. */
  IMG_S3_FORCE_PATH_STYLE: env.bool(true),
};

export type StorageConfig = { [K in keyof typeof storageEnv]?: z.infer<(typeof storageEnv)[K]> } & { IMG_DATA_DIR: string };

/** The refinement each service's schema adds: the S3 settings an S3 store cannot work without. */
export function checkStorageConfig(c: Partial<StorageConfig>, ctx: z.RefinementCtx): void {
  if (c.IMG_STORAGE !== 's3') return;
  for (const k of ['IMG_S3_ENDPOINT', 'IMG_S3_ACCESS_KEY', 'IMG_S3_SECRET_KEY'] as const) {
    if (!c[k]) ctx.addIssue({ code: 'custom', path: [k], message: `required with IMG_STORAGE=s3 (see "Storage" in the README)` });
  }
}

export function createStorage(c: StorageConfig): Storage {
  if (c.IMG_STORAGE !== 's3') return new LocalStorage(c.IMG_DATA_DIR);
  return new S3Storage({
    endpoint: c.IMG_S3_ENDPOINT,
    publicEndpoint: c.IMG_S3_PUBLIC_ENDPOINT,
    bucket: c.IMG_S3_BUCKET ?? 'img',
    region: c.IMG_S3_REGION ?? 'us-east-1',
    accessKeyId: c.IMG_S3_ACCESS_KEY ?? '',
    secretAccessKey: c.IMG_S3_SECRET_KEY ?? '',
    forcePathStyle: c.IMG_S3_FORCE_PATH_STYLE ?? true,
  });
}
