// The REST API under /api/v1, described by the OpenAPI document it serves (api/openapi.ts).
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { imageTypes, jobIdSchema, legacyImageTypes } from '@img/shared/contracts';
import { DEFAULT_ARCH, findArchitecture, findSuite, unknownArchitectureMessage, unknownSuiteMessage } from '@img/shared/kickstart';
import { terminalStatuses, type Job } from '@img/shared/jobs';
import { webhookSecret } from '@img/shared/webhooks';
import { sendError } from '../http/respond.ts';
import { checkCallback, checkSubmission } from '../submission.ts';
import { openApiDocument } from '../api/openapi.ts';
import { loadJob } from './common.ts';
import { fullJobView, publicJobView, shownSources } from './job-views.ts';
import type { RouteDeps } from './deps.ts';
import { emailFilterRefused, queueQuery, queueQueryError, revealQuery } from './queue-query.ts';
import { eventRoutes } from './events.ts';

const LOG_CHUNK_MAX = 1024 * 1024;
const kickstartCheckBody = z.object({
  kickstart: z.string().max(4 * 1024 * 1024),
  suite: z.string().max(40).optional(),
  arch: z.string().max(40).optional(),
}).strict();
const logQuery = z.object({
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  max: z.coerce.number().int().min(1).max(LOG_CHUNK_MAX).default(LOG_CHUNK_MAX),
});

export function apiRoutes(deps: RouteDeps): Router {
  const { config, store, index, estimator, actions, access } = deps;
  const base = config.IMG_PUBLIC_URL;
  const r = Router();
  const json = express.json({ limit: config.IMG_MAX_UPLOAD_BYTES * 2 + 64 * 1024 });
  const full = (job: Job) => fullJobView(base, job, access.tokenOf(job), { spot: estimator.current().spots.get(job.id) });
  const answer = (req: Request, res: Response, result: Awaited<ReturnType<typeof actions.cancel>>, status = 200) => {
    if (!result.ok) sendError(req, res, result.status, result.code, result.message);
    else res.status(status).json(full(result.value));
  };
  /** The job's token or the operator; the job is then in res.locals.job. */
  const owner = access.require(store);

  r.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument(base));
  });

  r.get('/api/v1/image-types', (_req, res) => {
    res.json({
      built: imageTypes,
      not_supported: legacyImageTypes,
    });
  });

  r.get('/api/v1/platforms', (_req, res) => {
    res.json({ platforms: deps.platforms.map((p) => p.name), architectures: Object.fromEntries(deps.platforms.map((p) => [p.name, p.arch])) });
  });

  r.get('/api/v1/jobs', (req, res) => {
    const parsed = queueQuery.safeParse(req.query);
    if (!parsed.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(parsed.error));
      return;
    }
    const q = parsed.data;
    if (emailFilterRefused(deps.operator, req, res, q)) return;
    const { jobs, total } = index.list({ status: q.status, email: q.email }, { offset: (q.page - 1) * q.limit, limit: q.limit });
    const spots = estimator.current().spots;
    res.setHeader('Cache-Control', 'no-store');
    res.json({ jobs: jobs.map((j) => publicJobView(base, j, spots.get(j.id))), total, page: q.page, pages: Math.max(1, Math.ceil(total / q.limit)), limit: q.limit });
  });

  r.post('/api/v1/jobs', ...deps.submitGuards, json, async (req, res) => {
    const parsed = await deps.parseSubmission(req, res);
    if (!parsed.ok) {
      sendError(req, res, parsed.status, parsed.status === 413 ? 'too_large' : 'invalid_request', parsed.errors.map((e) => `${e.field}: ${e.message}`).join('; '), { fields: parsed.errors });
      return;
    }
    const checked = await checkSubmission(parsed.input, {
      templateText: deps.defaultTemplateText, limits: { maxRootSizeMib: deps.config.IMG_MAX_DISK_MB }, suite: deps.config.IMG_DEFAULT_SUITE, kickstarts: deps.kickstarts,
    });
    const errors = [...(checked.ok ? [] : checked.errors), ...(await checkCallback(parsed.input, deps.callbacks))];
    if (!checked.ok || errors.length > 0) {
      sendError(req, res, 400, 'invalid_request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { fields: errors, warnings: checked.warnings });
      return;
    }
    const queued = await actions.queue(checked.job);
    if (!queued.ok) {
      sendError(req, res, queued.status, queued.code, queued.message);
      return;
    }
    // The one answer that hands out the job's token: the submitter keeps it (the email's links carry it too).
    // The webhook's signing secret is handed out here too, and only here.
    const secret = queued.value.callback_url ? { webhook_secret: webhookSecret(deps.config.IMG_TOKEN_SECRET, queued.value.id) } : {};
    res.status(201).location(`/api/v1/jobs/${queued.value.id}`).json({ ...full(queued.value), ...secret });
  });

  /**
   * Anyone: a kickstart read and its packages checked, as a submission would be, without queueing
   * anything. JSON `{"kickstart": TEXT, "suite"?: NAME, "arch"?: NAME}`; the answer lists errors and warnings by line.
   */
  r.post('/api/v1/kickstart/check', ...deps.checkGuards, json, async (req, res) => {
    const body = kickstartCheckBody.safeParse(req.body);
    if (!body.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(body.error));
      return;
    }
    const suite = body.data.suite?.trim() || config.IMG_DEFAULT_SUITE;
    if (!findSuite(suite)) {
      sendError(req, res, 400, 'invalid_request', `suite: ${unknownSuiteMessage(suite)}`, { fields: [{ field: 'suite', message: unknownSuiteMessage(suite) }] });
      return;
    }
    const arch = body.data.arch?.trim() || DEFAULT_ARCH;
    if (!findArchitecture(arch)) {
      sendError(req, res, 400, 'invalid_request', `arch: ${unknownArchitectureMessage(arch)}`, { fields: [{ field: 'arch', message: unknownArchitectureMessage(arch) }] });
      return;
    }
    const checked = await deps.kickstarts.check(body.data.kickstart, { file: 'kickstart', suite, arch });
    const p = checked.packages;
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      ok: checked.errors.length === 0,
      suite: checked.parsed.draft.suite,
      architecture: checked.parsed.draft.architecture,
      errors: checked.errors.map(({ line, message }) => ({ line, message })),
      warnings: checked.warnings.map(({ line, message }) => ({ line, message })),
      package_check: p.state === 'checked' ? { state: p.state, against: p.against, read_at: p.readAt.toISOString() }
        : p.state === 'skipped' ? { state: p.state, reason: p.reason } : { state: p.state, against: p.against },
    });
  });

  /** Clears every finished job (operator). DELETE, so a cross-site form cannot send it with a browser's saved credentials. */
  r.delete('/api/v1/jobs', deps.requireOperator, async (_req, res) => {
    res.json({ deleted: await actions.clear() });
  });

  /** Anyone: the public view; with the job's token or as the operator: the whole job. */
  r.get('/api/v1/jobs/:id', async (req, res) => {
    const reveal = revealQuery.safeParse(req.query);
    if (!reveal.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(reveal.error));
      return;
    }
    const job = await loadJob(store, req, res);
    if (!job) return;
    const who = access.of(req, job.id);
    res.setHeader('Cache-Control', 'no-store');
    const spot = estimator.current().spots.get(job.id);
    if (who === 'wrong') {
      access.refuse(req, res, who);
      return;
    }
    if (who === 'none') {
      res.json(publicJobView(base, job, spot));
      return;
    }
    const [email, webhook] = await Promise.all([
      deps.notifications.forJob(job.id, job.status),
      job.callback_url ? deps.notifications.webhookFor(job.id, job.status) : undefined,
    ]);
    res.json(fullJobView(base, job, access.tokenOf(job), { spot, email, webhook, reveal: reveal.data.reveal === 'secrets' }));
  });

  /** The kickstart as text, passwords blanked unless ?reveal=secrets. */
  r.get('/api/v1/jobs/:id/kickstart', owner, (req, res) => {
    const reveal = revealQuery.safeParse(req.query);
    if (!reveal.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(reveal.error));
      return;
    }
    const job = res.locals.job as Job;
    const shown = shownSources(job, reveal.data.reveal === 'secrets');
    if (shown.kickstart === undefined) {
      sendError(req, res, 404, 'not_found', 'this job was made from a template; its kickstart was generated by the kickstarter and is not kept');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    if (shown.secrets_redacted) res.setHeader('X-Secrets-Redacted', 'true');
    res.type('text/plain; charset=utf-8').send(shown.kickstart);
  });

  r.delete('/api/v1/jobs/:id', deps.requireOperator, async (req, res) => {
    const id = jobIdSchema.safeParse(req.params.id);
    if (!id.success) {
      sendError(req, res, 404, 'not_found', 'there is no job with this id; it may have been deleted');
      return;
    }
    answer(req, res, await actions.remove(id.data));
  });

  r.post('/api/v1/jobs/:id/cancel', owner, async (_req, res) => {
    answer(_req, res, await actions.cancel((res.locals.job as Job).id));
  });

  /** The new job's answer carries the new job's token. */
  r.post('/api/v1/jobs/:id/retry', owner, ...deps.submitGuards, async (req, res) => {
    answer(req, res, await actions.retry((res.locals.job as Job).id), 201);
  });

  /** The log from a byte offset; X-Log-Offset says where the next read starts, so a client can follow it. */
  r.get('/api/v1/jobs/:id/log', owner, async (req, res) => {
    const q = logQuery.safeParse(req.query);
    if (!q.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(q.error));
      return;
    }
    const job = res.locals.job as Job;
    const chunk = await deps.logs.read(job.id, q.data.offset, q.data.max, terminalStatuses.includes(job.status));
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Log-Offset', String(chunk.next));
    res.setHeader('X-Log-Size', String(chunk.size));
    res.setHeader('X-Job-Status', job.status);
    res.type('text/plain; charset=utf-8').send(chunk.text);
  });

  r.use(eventRoutes(deps));

  r.use('/api', (req, res) => {
    sendError(req, res, 404, 'not_found', `no route ${req.method} ${req.originalUrl.split('?')[0]}; see /api/v1/openapi.json`);
  });

  return r;
}
