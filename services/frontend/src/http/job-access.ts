// Who may see and act on a job. A job belongs to its submitter: the submission answers with the
// job's secret token (see shared/src/jobs/job-token.ts), sent back as `Authorization: Bearer TOKEN`
// or as `?token=TOKEN` (the links of the job page and of the emails carry it). The operator may do
// anything. Without either, only the job's public view is shown.
//
// The rule, the same on every route: an unknown job is a 404 (job ids are listed on the public
// queue, so whether one exists is no secret); a known job asked for without any credential is a
// 401; with a credential that is neither the job's token nor the operator's, a 403.
import type { NextFunction, Request, Response } from 'express';
import { isJobToken, jobToken, type Job, type JobStore } from '@img/shared/jobs';
import { loadJob } from '../routes/common.ts';
import { sendError } from './respond.ts';
import { authorization, type OperatorAuth } from './operator-auth.ts';

export type Access = 'operator' | 'owner' | 'none' | 'wrong';

export function jobAccess(opts: { secret: string; operator: OperatorAuth }) {
  /** The token a request offers: the bearer value or the `token` query parameter. */
  function offered(req: Request): string[] {
    const out: string[] = [];
    const { scheme, value } = authorization(req);
    if (scheme === 'bearer' && value) out.push(value);
    const q = req.query.token;
    if (typeof q === 'string') out.push(q);
    else if (Array.isArray(q)) for (const v of q) if (typeof v === 'string') out.push(v);
    return out;
  }

  function of(req: Request, jobId: string): Access {
    const op = opts.operator.check(req);
    if (op === 'operator') return 'operator';
    const tokens = offered(req);
    if (tokens.some((t) => isJobToken(opts.secret, jobId, t))) return 'owner';
    return op === 'wrong' || tokens.length > 0 || req.query.token !== undefined ? 'wrong' : 'none';
  }

  function refuse(req: Request, res: Response, access: 'none' | 'wrong'): void {
    if (access === 'none') {
      res.setHeader('WWW-Authenticate', 'Bearer realm="IMG job"');
      sendError(req, res, 401, 'unauthorized', 'this needs the job\'s token: open the link from the submission or from the email (it carries ?token=…), or send Authorization: Bearer TOKEN');
    } else {
      sendError(req, res, 403, 'forbidden', 'this token is not the token of this job (nor are these the operator\'s credentials)');
    }
  }

  /**
   * Middleware: loads the job named by `:id` (404 when there is none), lets the request through
   * only with the job's token or the operator, and leaves the job in res.locals.job.
   */
  function require(store: Pick<JobStore, 'get'>) {
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      try {
        const job = await loadJob(store, req, res);
        if (!job) return;
        const access = of(req, job.id);
        if (access === 'none' || access === 'wrong') {
          refuse(req, res, access);
          return;
        }
        res.locals.job = job;
        res.locals.access = access;
        next();
      } catch (err) {
        next(err);
      }
    };
  }

  return { of, refuse, require, tokenOf: (job: Pick<Job, 'id'>) => jobToken(opts.secret, job.id) };
}

export type JobAccess = ReturnType<typeof jobAccess>;

/** `?token=…` for the links a page shows to someone who may follow them, '' otherwise. */
export function tokenQuery(token: string | undefined, more: Record<string, string> = {}): string {
  const p = new URLSearchParams(more);
  if (token) p.set('token', token);
  const s = p.toString();
  return s ? `?${s}` : '';
}
