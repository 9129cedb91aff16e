// The image download, from the store: streamed (never buffered), with Content-Length, range
// requests (a broken download resumes, If-Range checked against the checksum) and the checksum in
// headers and as a sha256sum line; or, when the store is an object store people can reach
// (IMG_S3_PUBLIC_ENDPOINT), a redirect to a short-lived presigned URL, so the bytes do not pass
// through the frontend at all. Both are the job owner's (its token) or the operator's.
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import { sendError } from '../http/respond.ts';
import { imageObject } from '../jobs/job-files.ts';
import type { Job } from '@img/shared/jobs';
import { decompressedLines, decompressedName } from '@img/shared/provenance';
import type { RouteDeps } from './deps.ts';

/** How long a presigned download URL works: long enough to start a download, short enough not to be passed around. */
export const PRESIGNED_URL_EXPIRES_S = 900;

export function downloadRoutes(deps: RouteDeps): Router {
  const r = Router();
  const { storage } = deps;
  const owner = deps.access.require(deps.store);

  r.get('/images/:id', owner, async (req, res) => {
    const job = res.locals.job as Job;
    if (job.status !== 'done') {
      sendError(req, res, 404, 'not_found', `this job has no image: it is ${job.status}`);
      return;
    }
    const image = await imageObject(storage, job.id, job.imagefile);
    if (!image) {
      sendError(req, res, 404, 'not_found', 'the image file is gone');
      return;
    }
    const redirect = await storage.presignedUrl(image.key, { expiresS: PRESIGNED_URL_EXPIRES_S, filename: job.imagefile!, contentType: 'application/octet-stream' });
    if (redirect) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, redirect);
      return;
    }
    const size = image.size;
    // The checksum names the content exactly: a strong validator for If-Range on a resumed download.
    const etag = job.sha256 ? `"${job.sha256}"` : `"${size.toString(16)}-${image.modified.getTime().toString(16)}"`;
    if (job.sha256) {
      res.setHeader('X-Checksum-Sha256', job.sha256);
      res.setHeader('Repr-Digest', `sha-256=:${Buffer.from(job.sha256, 'hex').toString('base64')}:`);
    }
    res.setHeader('Cache-Control', 'private, no-transform');
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.attachment(job.imagefile!);
    res.type('application/octet-stream');
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    let range: { start: number; end: number } | undefined;
    const ifRange = req.get('if-range');
    if (req.get('range') && (!ifRange || ifRange === etag)) {
      const parsed = req.range(size, { combine: true });
      if (parsed === -1) {
        res.setHeader('Content-Range', `bytes */${size}`);
        sendError(req, res, 416, 'range_not_satisfiable', `the range is outside the image of ${size} bytes`);
        return;
      }
      // Several ranges, or one that cannot be read: the whole image, as a file server does.
      if (Array.isArray(parsed) && parsed.length === 1) range = { start: parsed[0]!.start, end: parsed[0]!.end };
    }
    const got = await storage.get(image.key, range);
    if (!got) {
      sendError(req, res, 404, 'not_found', 'the image file is gone');
      return;
    }
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    }
    res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
    if (req.method === 'HEAD') {
      got.body.destroy();
      res.end();
      return;
    }
    // A client that goes away ends the read from the store too.
    await pipeline(got.body, res).catch(() => got.body.destroy());
  });

  /** `sha256sum -c` reads this next to the downloaded file. */
  r.get('/images/:id/sha256', owner, async (req, res) => {
    const job = res.locals.job as Job;
    if (job.status !== 'done' || !job.sha256 || !job.imagefile) {
      sendError(req, res, 404, 'not_found', `this job has no image: it is ${job.status}`);
      return;
    }
    const decompressed = job.compression === 'zstd' && job.disk_sha256 ? decompressedLines({ name: decompressedName(job.imagefile), sha256: job.disk_sha256 }, `${job.imagefile}.sha256`) : '';
    res.type('text/plain; charset=utf-8').send(`${job.sha256}  ${job.imagefile}\n${decompressed}`);
  });

  return r;
}
