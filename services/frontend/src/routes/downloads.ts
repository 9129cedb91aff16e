// The image download: streamed, with Content-Length, range requests (a broken download resumes)
// and the checksum in headers and as a sha256sum line. Both are the job owner's (its token) or the operator's.
import { Router } from 'express';
import { sendError } from '../http/respond.ts';
import { imagePath } from '../jobs/job-files.ts';
import type { Job } from '@img/shared/jobs';
import type { RouteDeps } from './deps.ts';

export function downloadRoutes(deps: RouteDeps): Router {
  const r = Router();
  const dataDir = deps.config.IMG_DATA_DIR;
  const owner = deps.access.require(deps.store);

  r.get('/images/:id', owner, async (req, res) => {
    const job = res.locals.job as Job;
    if (job.status !== 'done') {
      sendError(req, res, 404, 'not_found', `this job has no image: it is ${job.status}`);
      return;
    }
    const file = await imagePath(dataDir, job.id, job.imagefile);
    if (!file) {
      sendError(req, res, 404, 'not_found', 'the image file is gone');
      return;
    }
    if (job.sha256) {
      res.setHeader('X-Checksum-Sha256', job.sha256);
      res.setHeader('Repr-Digest', `sha-256=:${Buffer.from(job.sha256, 'hex').toString('base64')}:`);
    }
    // The checksum names the content exactly: a strong validator for If-Range on a resumed download.
    res.download(file, job.imagefile!, {
      dotfiles: 'deny', acceptRanges: true, cacheControl: false, lastModified: false, etag: !job.sha256,
      headers: { 'Cache-Control': 'private, no-transform', ...(job.sha256 ? { ETag: `"${job.sha256}"` } : {}) },
    }, (err?: Error & { status?: number; headers?: Record<string, string> }) => {
      if (!err || res.headersSent) return;
      if (err.status === 416) {
        res.set(err.headers ?? {});
        sendError(req, res, 416, 'range_not_satisfiable', `the range is outside the image of ${job.size ?? '?'} bytes`);
      } else sendError(req, res, 404, 'not_found', 'the image file is gone');
    });
  });

  /** `sha256sum -c` reads this next to the downloaded file. */
  r.get('/images/:id/sha256', owner, async (req, res) => {
    const job = res.locals.job as Job;
    if (job.status !== 'done' || !job.sha256 || !job.imagefile) {
      sendError(req, res, 404, 'not_found', `this job has no image: it is ${job.status}`);
      return;
    }
    res.type('text/plain; charset=utf-8').send(`${job.sha256}  ${job.imagefile}\n`);
  });

  return r;
}
