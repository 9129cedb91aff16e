// Loading a job by its id, for the route modules. How a job is shown (its public view, or the
// whole job for its owner and the operator) is routes/job-views.ts.
import type { Request, Response } from 'express';
import { jobIdSchema } from '@img/shared/contracts';
import type { Job, JobStore } from '@img/shared/jobs';
import { sendError } from '../http/respond.ts';

/** The job named by `:id`, or undefined after answering 404 (a malformed id is simply not found). */
export async function loadJob(store: Pick<JobStore, 'get'>, req: Request, res: Response): Promise<Job | undefined> {
  const id = jobIdSchema.safeParse(req.params.id);
  const job = id.success ? await store.get(id.data) : null;
  if (!job) {
    sendError(req, res, 404, 'not_found', 'there is no job with this id; it may have been deleted');
    return undefined;
  }
  return job;
}
