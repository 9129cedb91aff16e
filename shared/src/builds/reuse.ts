// Answering a request from an identical earlier build: the image is copied in the store into the new
// job's folder (a hard link in a local directory, a copy inside an object store: instant or close to
// it, and it stays valid when the first job's copy is deleted), with a result and a log of its own.
// The log does not name the earlier job: a job id is all it takes to cancel or follow it.
import { imageKey, jobKeys, JobUrls } from '../layout/index.ts';
import { linkMessage, type Delivery, type ImageType, type LinkMessage } from '../contracts/index.ts';
import type { Storage } from '../storage/index.ts';
import type { BuiltImage } from './index.ts';
import { MANIFEST_FILE, manifestSchema } from '../provenance/index.ts';

/** Largest manifest read back to be given to the new job. */
const MAX_MANIFEST_BYTES = 16 * 1048576;

/**
 * The earlier job's manifest, given to the new one under its own id (it must not name the earlier
 * job); none when the earlier job has none (built before manifests were kept). Returns its package count.
 */
async function copyManifest(storage: Storage, from: string, to: string): Promise<number | undefined> {
  const buf = await storage.getBuffer(imageKey(from, MANIFEST_FILE)!, MAX_MANIFEST_BYTES);
  if (!buf) return undefined;
  const parsed = manifestSchema.safeParse(JSON.parse(buf.toString('utf8')));
  if (!parsed.success) return undefined;
  await storage.put(imageKey(to, MANIFEST_FILE)!, `${JSON.stringify({ ...parsed.data, job: to })}\n`, { contentType: 'application/json' });
  return parsed.data.packages.length;
}

/** The built image's compression and decompressed size and sum, as the link message carries them. */
export function delivery(image: Pick<BuiltImage, 'compression' | 'disk_size' | 'disk_sha256'>): Delivery {
  return {
    ...(image.compression ? { compression: image.compression } : {}),
    ...(image.disk_size !== undefined ? { disk_size: image.disk_size } : {}),
    ...(image.disk_sha256 ? { disk_sha256: image.disk_sha256 } : {}),
  };
}

export function imageKeyOf(image: Pick<BuiltImage, 'job' | 'filename'>): string {
  const key = imageKey(image.job, image.filename);
  if (!key) throw new Error(`the build registry names an image that is not a plain file name: ${JSON.stringify(image.filename)}`);
  return key;
}

export async function imageExists(storage: Storage, image: BuiltImage): Promise<boolean> {
  return storage.stat(imageKeyOf(image)).then((s) => s?.size === image.size, () => false);
}

export async function reuseImage(opts: {
  storage: Storage;
  publicUrl: string;
  image: BuiltImage;
  job: { id: string; email: string; imagetype: ImageType };
  /** Write the job's log (false when the caller is writing it). */
  writeLog?: boolean;
}): Promise<LinkMessage> {
  const { storage, image, job } = opts;
  const keys = jobKeys(job.id);
  const urls = new JobUrls(opts.publicUrl);
  const filename = image.filename.replace(image.job.slice(0, 12), job.id.slice(0, 12));
  const target = imageKey(job.id, filename);
  if (!target) throw new Error(`not a plain file name: ${JSON.stringify(filename)}`);
  await storage.copy(imageKeyOf(image), target);
  const packages = await copyManifest(storage, image.job, job.id);
  if (opts.writeLog !== false) await storage.put(keys.log,
    `IMG: this request is identical to an earlier build (same kickstart, image type and builder),\n`
    + `so it was answered from that build's image at once: ${filename}, ${image.size} bytes, sha256 ${image.sha256}.\n`);
  const msg: LinkMessage = linkMessage.parse({
    id: job.id, email: job.email, imagetype: job.imagetype,
    url: urls.image(job.id), logurl: urls.log(job.id),
    filename, size: image.size, sha256: image.sha256, duration_s: 0,
    ...(image.verified ? { verified: image.verified } : {}),
    ...(packages !== undefined ? { packages } : {}),
    ...delivery(image),
  });
  await storage.put(keys.result, JSON.stringify(msg));
  return msg;
}
