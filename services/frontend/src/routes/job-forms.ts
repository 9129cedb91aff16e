// The buttons of the job page and the operator's clear page: small form posts, each carrying the
// CSRF token. Cancel and retry need the job's token (in the form's action URL) or the operator;
// delete and clear need the operator.
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { jobIdSchema } from '@img/shared/contracts';
import { terminalStatuses, type Job } from '@img/shared/jobs';
import { tokenQuery } from '../http/job-access.ts';
import { sendError } from '../http/respond.ts';
import type { ActionResult } from '../jobs/job-actions.ts';
import type { RouteDeps } from './deps.ts';

export function jobFormRoutes(deps: RouteDeps): Router {
  const r = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });
  const checkToken = (req: Request, res: Response, next: NextFunction) => {
    if (deps.csrf.valid(req)) next();
    else sendError(req, res, 403, 'csrf', 'the form has expired or did not come from this site; reload the page and try again');
  };
  const idOr404 = (req: Request, res: Response): string | undefined => {
    const id = jobIdSchema.safeParse(req.params.id);
    if (!id.success) sendError(req, res, 404, 'not_found', 'there is no job with this id; it may have been deleted');
    return id.success ? id.data : undefined;
  };
  const answer = <T>(req: Request, res: Response, result: ActionResult<T>, to: (v: T) => string) => {
    if (result.ok) res.redirect(303, to(result.value));
    else sendError(req, res, result.status, result.code, result.message);
  };

  const owner = deps.access.require(deps.store);
  /** The job page again, with the token when the person came with one (the operator needs none). */
  const jobPage = (job: Job, res: Response) => `/job/${job.id}${res.locals.access === 'owner' ? tokenQuery(deps.access.tokenOf(job)) : ''}`;

  r.post('/job/:id/cancel', owner, form, checkToken, async (req, res) => {
    const job = res.locals.job as Job;
    answer(req, res, await deps.actions.cancel(job.id), () => jobPage(job, res));
  });

  // A retry is a new submission: the same guards apply (the size guard passes a small form). The
  // new job's page is opened with the new job's token.
  r.post('/job/:id/retry', owner, ...deps.submitGuards, form, checkToken, async (req, res) => {
    const job = res.locals.job as Job;
    answer(req, res, await deps.actions.retry(job.id), (again) => jobPage(again, res));
  });

  r.post('/job/:id/delete', deps.requireOperator, form, checkToken, async (req, res) => {
    const id = idOr404(req, res);
    if (id) answer(req, res, await deps.actions.remove(id), () => '/queue');
  });

  r.get('/clear', deps.requireOperator, deps.csrf.issue, (_req, res) => {
    const finished = deps.index.all().filter((j) => terminalStatuses.includes(j.status)).length;
    res.render('clear', { title: 'Clear finished jobs', finished });
  });

  r.post('/clear', deps.requireOperator, form, checkToken, async (req, res) => {
    if (req.body?.confirm !== 'yes') {
      sendError(req, res, 400, 'invalid_request', 'tick the box to confirm that the finished jobs and their files are to be removed');
      return;
    }
    const n = await deps.actions.clear();
    res.redirect(303, `/queue?cleared=${n}`);
  });

  return r;
}
