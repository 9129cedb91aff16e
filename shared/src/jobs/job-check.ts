// A message names a job; only a job IMG has a record of is acted on, and only in a state that
// agrees with what the message says. Whoever can publish to the broker cannot have a build run or
// a mail sent for a job nobody submitted, nor for someone else's address.
import type { JobStore } from './job-store.ts';
import type { Job, JobStatus } from './job.ts';

export type JobCheck =
  | { ok: true; job: Job }
  /** `unknown`: no such job, or one the message misdescribes (a forged or corrupt message). */
  | { ok: false; unknown: boolean; reason: string; job?: Job };

/**
 * Reads the job the message names. It matches when the record exists, has the message's email
 * (and image type, when the message has one) and is in one of `states`.
 */
export async function checkJobMessage(
  jobs: Pick<JobStore, 'get'>,
  msg: { id: string; email?: string | undefined; imagetype?: string | undefined },
  states: readonly JobStatus[],
): Promise<JobCheck> {
  const job = await jobs.get(msg.id);
  if (!job) return { ok: false, unknown: true, reason: 'IMG has no job of this id' };
  if (msg.email !== undefined && msg.email.trim().toLowerCase() !== job.email.trim().toLowerCase()) {
    return { ok: false, unknown: true, reason: 'the message names another email address than the job\'s', job };
  }
  if (msg.imagetype !== undefined && msg.imagetype !== job.type) {
    return { ok: false, unknown: true, reason: `the message names image type ${msg.imagetype}, the job is ${job.type}`, job };
  }
  if (!states.includes(job.status)) return { ok: false, unknown: false, reason: `the job is ${job.status}`, job };
  return { ok: true, job };
}
