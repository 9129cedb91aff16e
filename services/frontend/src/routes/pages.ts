// The pages people read: the start page, the queue and a job. Each renders whole without
// JavaScript; with it, the queue and the job's state come back as fragments when they change.
// A job's page opened without its token shows the public view only (state, type, timings, the
// submitter masked); with the token (or as the operator) the log, the kickstart with its passwords
// blanked (unless ?reveal=secrets), the download and the buttons, every link carrying the token.
import { Router } from 'express';
import { z } from 'zod';
import { terminalStatuses, type Job } from '@img/shared/jobs';
import { sendError } from '../http/respond.ts';
import { loadJob } from './common.ts';
import { tokenQuery } from '../http/job-access.ts';
import { shownSources, timingView } from './job-views.ts';
import { jobProvenance } from '../provenance/job-provenance.ts';
import { emailFilterRefused } from './queue-query.ts';
import type { RouteDeps } from './deps.ts';
import { queueQuery, queueQueryError, statusChoices, type QueueQuery } from './queue-query.ts';

const LOG_PAGE_BYTES = 256 * 1024;
const LOG_PIECE_BYTES = 1024 * 1024;
const PAGE_SIZE = 50;
const jobFragment = z.object({ fragment: z.enum(['state']).optional(), reveal: z.enum(['secrets']).optional() });

function pageHref(q: QueueQuery, rawStatus: string, page: number): string {
  const p = new URLSearchParams();
  if (rawStatus) p.set('status', rawStatus);
  if (q.email) p.set('email', q.email);
  if (page > 1) p.set('page', String(page));
  const s = p.toString();
  return s ? `/queue?${s}` : '/queue';
}

export function pageRoutes(deps: RouteDeps): Router {
  const { index, estimator, store, config } = deps;
  const r = Router();

  r.get('/', (_req, res) => {
    const { jobs } = index.list({}, { offset: 0, limit: 8 });
    res.render('index', { title: 'IMG', jobs, spots: estimator.current().spots, now: new Date(), fingerprint: spacedFingerprint(deps.signing.fingerprint) });
  });

  r.get('/queue', (req, res) => {
    const parsed = queueQuery.safeParse(req.query);
    if (!parsed.success) {
      sendError(req, res, 400, 'invalid_request', queueQueryError(parsed.error));
      return;
    }
    const q = parsed.data;
    if (emailFilterRefused(deps.operator, req, res, q)) return;
    const { jobs, total } = index.list({ status: q.status, email: q.email }, { offset: (q.page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const estimate = estimator.current();
    const rawStatus = typeof req.query.status === 'string' ? req.query.status : '';
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const view = {
      title: 'Queue', jobs, total, page: q.page, pages, estimate, spots: estimate.spots, now: new Date(),
      rawStatus, email: q.email ?? '', statusChoices, cleared: q.cleared, isOperator: deps.operator.check(req) === 'operator',
      newerHref: q.page > 1 ? pageHref(q, rawStatus, q.page - 1) : undefined,
      olderHref: q.page < pages ? pageHref(q, rawStatus, q.page + 1) : undefined,
    };
    res.setHeader('Cache-Control', 'no-store');
    if (q.fragment === 'rows') res.render('partials/queue-body', view);
    else res.render('queue', view);
  });

  r.get('/job/:id', deps.csrf.issue, async (req, res) => {
    const frag = jobFragment.safeParse(req.query);
    if (!frag.success) {
      sendError(req, res, 400, 'invalid_request', 'fragment: only "state" is known; reveal: only "secrets"');
      return;
    }
    const job = await loadJob(store, req, res);
    if (!job) return;
    const who = deps.access.of(req, job.id);
    if (who === 'wrong') {
      deps.access.refuse(req, res, who);
      return;
    }
    const full = who === 'owner' || who === 'operator';
    const [email, webhook, log] = full ? await Promise.all([
      deps.notifications.forJob(job.id, job.status),
      job.callback_url ? deps.notifications.webhookFor(job.id, job.status) : undefined,
      frag.data.fragment ? undefined : deps.logs.tailText(job.id, LOG_PAGE_BYTES, terminalStatuses.includes(job.status)),
    ]) : [undefined, undefined, undefined];
    const reveal = frag.data.reveal === 'secrets';
    // The package list of a finished job, for the whole page (the state fragment does not carry it).
    const provenance = full && job.status === 'done' && !frag.data.fragment
      ? await jobProvenance(deps.storage, config.IMG_PUBLIC_URL, job).catch((err: Error) => ({ ok: false as const, why: `the package manifest could not be read: ${err.message}` }))
      : undefined;
    // Every link of a full page carries the token, so they work for the owner and the operator alike.
    const tq = full ? tokenQuery(deps.access.tokenOf(job)) : '';
    const spot = estimator.current().spots.get(job.id);
    const now = new Date();
    const view = {
      title: `Job ${job.id.slice(0, 8)}`, job, log, email, webhook, spot, now, timing: timingView(job, spot, now),
      finished: terminalStatuses.includes(job.status), full, tq, reveal,
      isOperator: who === 'operator', sources: full ? shownSources(job, reveal) : {},
      stateUrl: `/job/${job.id}${full ? tokenQuery(deps.access.tokenOf(job), { fragment: 'state' }) : '?fragment=state'}`,
      provenance, fingerprint: spacedFingerprint(deps.signing.fingerprint),
      revealUrl: full ? `/job/${job.id}${tokenQuery(deps.access.tokenOf(job), { reveal: 'secrets' })}` : '',
    };
    // The token is in this page's address: no cache may keep it, and no other site learns it (Referrer-Policy: same-origin).
    res.setHeader('Cache-Control', 'no-store');
    if (frag.data.fragment === 'state') res.render('partials/job-state', view);
    else res.render('job', view);
  });

  /** The whole log as plain text, as IMG served it. */
  r.get('/job/:id/log', deps.access.require(store), async (_req, res) => {
    const job = res.locals.job as Job;
    res.type('text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    const finished = terminalStatuses.includes(job.status);
    // Read on in pieces: from the store once the job is over, else as far as the build has got.
    for (let offset = 0; ;) {
      const chunk = await deps.logs.read(job.id, offset, LOG_PIECE_BYTES, finished);
      if (chunk.next === offset) break;
      if (!res.write(chunk.text)) await new Promise((r) => res.once('drain', r));
      offset = chunk.next;
    }
    res.end();
  });

  return r;
}

/** A fingerprint as gpg prints it: groups of four. */
function spacedFingerprint(fpr: string): string {
  return fpr.replace(/(.{4})(?!$)/g, '$1 ');
}
