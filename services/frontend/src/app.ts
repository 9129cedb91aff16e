// The web UI and the small JSON surface of the skeleton. Routes receive everything as arguments:
// the job store, the publisher, the config.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { routes, type Broker } from '@img/shared/broker';
import { builtImageTypes, imageMessage, jobIdSchema, kickstarterMessage } from '@img/shared/contracts';
import type { Job, JobStore, JobStatus } from '@img/shared/jobs';
import { jobStatuses } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import type { Config } from './config.ts';
import { checkSubmission, type FieldError, type SubmissionInput } from './submission.ts';

export interface AppDeps {
  config: Config;
  store: JobStore;
  broker: Pick<Broker, 'publish'>;
  log: Logger;
  platforms: string[];
  defaultTemplateText: string;
}

const viewsDir = fileURLToPath(new URL('./views', import.meta.url));
const publicDir = fileURLToPath(new URL('./public', import.meta.url));
const LOG_PAGE_BYTES = 256 * 1024;

function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json';
}

function maskEmail(email: string): string {
  const [user = '', domain = ''] = email.split('@');
  return `${user.slice(0, 2)}${'•'.repeat(Math.max(1, Math.min(6, user.length - 2)))}@${domain}`;
}

/** The job as the API shows it: no internal paths. */
function publicJob(job: Job) {
  const { logfile: _l, ...rest } = job;
  return rest;
}

async function readLogTail(path: string, max: number): Promise<{ text: string; truncated: boolean }> {
  try {
    const { size } = await stat(path);
    const fh = await open(path, 'r');
    try {
      const len = Math.min(size, max);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return { text: buf.toString('utf8'), truncated: size > max };
    } finally {
      await fh.close();
    }
  } catch {
    return { text: '', truncated: false };
  }
}

export function createApp(deps: AppDeps): express.Express {
  const { config, store, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('views', viewsDir);
  app.set('view engine', 'ejs');
  app.locals.imageTypes = builtImageTypes;
  app.locals.maskEmail = maskEmail;
  app.use('/static', express.static(publicDir, { maxAge: '1h' }));
  app.use(express.urlencoded({ extended: false, limit: config.IMG_MAX_UPLOAD_BYTES * 2 }));
  app.use(express.json({ limit: config.IMG_MAX_UPLOAD_BYTES * 2 }));

  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: config.IMG_MAX_UPLOAD_BYTES, fieldSize: config.IMG_MAX_UPLOAD_BYTES, files: 2, fields: 12, parts: 16 },
  }).fields([{ name: 'ksfile', maxCount: 1 }, { name: 'template', maxCount: 1 }]);

  const jobOr404 = async (req: Request, res: Response): Promise<Job | undefined> => {
    const id = jobIdSchema.safeParse(req.params.id);
    const job = id.success ? await store.get(id.data) : null;
    if (!job) {
      res.status(404);
      if (wantsJson(req)) res.json({ error: { code: 'not_found', message: 'no such job' } });
      else res.render('error', { title: 'No such job', message: 'There is no job with this id. It may have been deleted.' });
      return undefined;
    }
    return job;
  };

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/', async (_req, res) => {
    const { jobs } = await store.list({}, { limit: 5, skip: 0 });
    res.render('index', { title: 'IMG', jobs });
  });

  app.get('/submit', (_req, res) => {
    res.render('submit', { title: 'Submit a build', platforms: deps.platforms, values: {}, errors: [] as FieldError[] });
  });

  const submitFail = (req: Request, res: Response, values: Record<string, string>, errors: FieldError[]) => {
    res.status(400);
    if (wantsJson(req)) res.json({ error: { code: 'invalid_request', message: errors.map((e) => `${e.field}: ${e.message}`).join('; '), fields: errors } });
    else res.render('submit', { title: 'Submit a build', platforms: deps.platforms, values, errors });
  };

  app.post('/submit', (req, res, next) => {
    upload(req, res, (err: unknown) => {
      if (err instanceof multer.MulterError) {
        const field = err.field ?? 'upload';
        const message = err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE'
          ? `the upload is larger than the limit of ${config.IMG_MAX_UPLOAD_BYTES} bytes`
          : `the upload was refused: ${err.message}`;
        submitFail(req, res, {}, [{ field, message }]);
        return;
      }
      if (err) {
        next(err);
        return;
      }
      void handleSubmit(req, res).catch(next);
    });
  });

  async function handleSubmit(req: Request, res: Response): Promise<void> {
    const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const ksUpload = files.ksfile?.[0];
    const tplUpload = files.template?.[0];
    const input: SubmissionInput = {
      email: str('email'),
      imagetype: str('imagetype'),
      platform: str('platform'),
      overlay: str('overlay'),
      kickstart: ksUpload ? { text: ksUpload.buffer.toString('utf8'), filename: ksUpload.originalname } : str('kickstart') ? { text: str('kickstart')! } : undefined,
      template: tplUpload ? { text: tplUpload.buffer.toString('utf8'), filename: tplUpload.originalname } : undefined,
    };
    if (ksUpload?.buffer.includes(0) || tplUpload?.buffer.includes(0)) {
      submitFail(req, res, {}, [{ field: ksUpload ? 'ksfile' : 'template', message: 'the upload is not a text file (it contains NUL bytes)' }]);
      return;
    }
    const values = { email: input.email ?? '', imagetype: input.imagetype ?? '', platform: input.platform ?? '', overlay: input.overlay ?? '', kickstart: str('kickstart') ?? '' };
    const checked = checkSubmission(input, { templateText: deps.defaultTemplateText });
    if (!checked.ok) {
      submitFail(req, res, values, checked.errors);
      return;
    }
    const job = await store.create(checked.job);
    try {
      if (checked.kind === 'kickstart') {
        await deps.broker.publish(routes.build, imageMessage, { id: job.id, email: job.email, imagetype: job.type, ksfile: job.kickstart ?? '' });
      } else {
        await deps.broker.publish(routes.kickstart, kickstarterMessage, {
          id: job.id, email: job.email, imagetype: job.type, config: job.config ?? '', platform: job.platform ?? '', overlay: job.overlay ?? '',
        });
      }
    } catch (err) {
      // Nothing was queued: say so on the job rather than leave it waiting for ever.
      await store.transition(job.id, 'failed', { error: 'the job could not be queued; please submit it again', error_code: 'internal' });
      log.error({ jobId: job.id, err: (err as Error).message }, 'publish failed');
      res.status(503);
      if (wantsJson(req)) res.json({ error: { code: 'unavailable', message: 'the build queue is unavailable; try again shortly' } });
      else res.render('error', { title: 'Try again shortly', message: 'The build queue is unavailable right now, so your job was not queued. Please submit it again in a minute.' });
      return;
    }
    log.info({ jobId: job.id, imagetype: job.type, source: job.source }, 'job queued');
    if (wantsJson(req)) res.status(201).location(`/job/${job.id}`).json({ id: job.id, status: job.status, url: `${config.IMG_PUBLIC_URL}/job/${job.id}` });
    else res.redirect(303, `/job/${job.id}`);
  }

  app.get('/queue', async (req, res) => {
    const status = typeof req.query.status === 'string' && (jobStatuses as readonly string[]).includes(req.query.status) ? (req.query.status as JobStatus) : undefined;
    const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const limit = 50;
    const { jobs, total } = await store.list(status ? { status } : {}, { limit, skip: (page - 1) * limit });
    if (wantsJson(req)) {
      res.json({ jobs: jobs.map(publicJob), total, page });
      return;
    }
    res.render('queue', { title: 'Queue', jobs, total, page, pages: Math.max(1, Math.ceil(total / limit)), status, statuses: jobStatuses });
  });

  app.get('/job/:id', async (req, res) => {
    const job = await jobOr404(req, res);
    if (!job) return;
    const logText = await readLogTail(join(config.IMG_DATA_DIR, 'logs', `${job.id}.log`), LOG_PAGE_BYTES);
    res.render('job', { title: `Job ${job.id.slice(0, 8)}`, job, log: logText });
  });

  app.get('/job/:id/log', async (req, res) => {
    const job = await jobOr404(req, res);
    if (!job) return;
    const path = join(config.IMG_DATA_DIR, 'logs', `${job.id}.log`);
    const exists = await stat(path).then(() => true, () => false);
    res.type('text/plain; charset=utf-8');
    if (!exists) {
      res.send('');
      return;
    }
    createReadStream(path).pipe(res);
  });

  app.get('/api/v1/jobs/:id', async (req, res) => {
    const job = await jobOr404(req, res);
    if (job) res.json(publicJob(job));
  });

  app.get('/images/:id', async (req, res) => {
    const job = await jobOr404(req, res);
    if (!job) return;
    if (job.status !== 'done' || !job.imagefile) {
      res.status(404).type('text/plain').send('this job has no image (yet)');
      return;
    }
    if (job.sha256) res.setHeader('X-Checksum-Sha256', job.sha256);
    // The id is validated and the file name was chosen by image-creator: the path stays inside the image directory.
    res.download(job.imagefile, job.imagefile, { root: join(config.IMG_DATA_DIR, 'images', job.id), dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) res.status(404).type('text/plain').send('the image file is gone');
    });
  });

  app.use((req, res) => {
    res.status(404);
    if (wantsJson(req)) res.json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } });
    else res.render('error', { title: 'Not found', message: 'There is no page here.' });
  });

  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) log.error({ err: err.message, stack: err.stack, path: req.path }, 'request failed');
    res.status(status);
    const message = status === 413 ? 'the request body is too large' : status === 500 ? 'internal error' : err.message;
    if (wantsJson(req)) res.json({ error: { code: status === 500 ? 'internal' : 'invalid_request', message } });
    else res.render('error', { title: status === 500 ? 'Something went wrong' : 'Bad request', message });
  });
  return app;
}
