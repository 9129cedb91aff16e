// Pieces several route modules share: loading a job by its id, and the job as clients see it.
import type { Request, Response } from 'express';
import { jobIdSchema } from '@img/shared/contracts';
import type { Job, JobStore } from '@img/shared/jobs';
import { sendError } from '../http/respond.ts';
import type { QueueSpot } from '../jobs/queue-estimate.ts';
import type { EmailState } from '../jobs/notifications.ts';
import type { JobSummary } from '../jobs/job-summary.ts';
import { maskEmail } from '../http/view-helpers.ts';

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

export function jobLinks(base: string, job: Pick<Job, 'id' | 'status'>) {
  return {
    page: `${base}/job/${job.id}`,
    api: `${base}/api/v1/jobs/${job.id}`,
    log: `${base}/api/v1/jobs/${job.id}/log`,
    events: `${base}/api/v1/jobs/${job.id}/events`,
    ...(job.status === 'done' ? { image: `${base}/images/${job.id}` } : {}),
  };
}

function queueFields(spot: QueueSpot | undefined) {
  if (!spot) return {};
  return { queue_position: spot.position, ...(spot.startAt ? { estimated_start: spot.startAt.toISOString() } : {}) };
}

/** One job in full, as GET /api/v1/jobs/:id shows it: no paths inside the server. */
export function publicJob(base: string, job: Job, spot?: QueueSpot, email?: EmailState) {
  const { logfile: _l, client: _c, ...rest } = job;
  return { ...rest, ...queueFields(spot), ...(email ? { email_status: email } : {}), links: jobLinks(base, job) };
}

/** One job in a list: the submitter masked, as in the queue page. */
export function listedJob(base: string, job: JobSummary, spot?: QueueSpot) {
  const { client: _c, ...rest } = job;
  return { ...rest, email: maskEmail(job.email), ...queueFields(spot), links: jobLinks(base, job) };
}
