// Answering a request from an identical earlier build: the image is hard-linked into the new job's
// folder (instant, and it stays valid when the first job's copy is deleted), with a result and a log
// of its own. The log does not name the earlier job: a job id is all it takes to cancel or follow it.
import { copyFile, link, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataLayout, JobUrls } from '../layout/index.ts';
import { linkMessage, type ImageType, type LinkMessage } from '../contracts/index.ts';
import type { BuiltImage } from './index.ts';

export function imagePath(dataDir: string, image: Pick<BuiltImage, 'job' | 'filename'>): string {
  const path = new DataLayout(dataDir).image(image.job, image.filename);
  if (!path) throw new Error(`the build registry names an image that is not a plain file name: ${JSON.stringify(image.filename)}`);
  return path;
}

export async function imageExists(dataDir: string, image: BuiltImage): Promise<boolean> {
  return stat(imagePath(dataDir, image)).then((s) => s.size === image.size, () => false);
}

export async function reuseImage(opts: {
  dataDir: string;
  publicUrl: string;
  image: BuiltImage;
  job: { id: string; email: string; imagetype: ImageType };
  /** Write the job's log (false when the caller is writing it). */
  writeLog?: boolean;
}): Promise<LinkMessage> {
  const { dataDir, image, job } = opts;
  const layout = new DataLayout(dataDir);
  const files = layout.job(job.id);
  const urls = new JobUrls(opts.publicUrl);
  const dir = files.imageDir;
  await mkdir(dir, { recursive: true });
  await mkdir(layout.root('logs'), { recursive: true });
  const filename = image.filename.replace(image.job.slice(0, 12), job.id.slice(0, 12));
  const target = join(dir, filename);
  // Whatever an earlier attempt left under that name is not the image this answer names.
  await rm(target, { force: true });
  await link(imagePath(dataDir, image), target).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return; // an answer to the same job at the same moment: the same file
    if (err.code !== 'EXDEV') throw err;
    // Another file system: a copy does the same, more slowly.
    await copyFile(imagePath(dataDir, image), target);
  });
  if (opts.writeLog !== false) await writeFile(files.log,
    `IMG: this request is identical to an earlier build (same kickstart, image type and builder),\n`
    + `so it was answered from that build's image at once: ${filename}, ${image.size} bytes, sha256 ${image.sha256}.\n`);
  const msg: LinkMessage = linkMessage.parse({
    id: job.id, email: job.email, imagetype: job.imagetype,
    url: urls.image(job.id), logurl: urls.log(job.id),
    filename, size: image.size, sha256: image.sha256, duration_s: 0,
    ...(image.verified ? { verified: image.verified } : {}),
  });
  await writeFile(files.result, JSON.stringify(msg));
  return msg;
}
