// What the queue, the lists and the estimates need of a job: no kickstart, template, history or
// error text, so ten thousand of them fit in a few megabytes.
import type { Job } from '@img/shared/jobs';

export type JobSummary = Pick<Job, 'id' | 'email' | 'type' | 'status' | 'phase' | 'source' | 'created'> &
  Partial<Pick<Job, 'progress' | 'platform' | 'suite' | 'arch' | 'started' | 'finished' | 'duration_s' | 'size' | 'error_code' | 'imagefile' | 'sha256' | 'client' | 'start' | 'request_hash' | 'queued_estimate' | 'packages_key'>> & {
    /** Whether the image was boot-checked (the estimates tell the two kinds of build apart). */
    booted?: boolean;
  };

const optional = ['progress', 'platform', 'suite', 'arch', 'started', 'finished', 'duration_s', 'size', 'error_code', 'imagefile', 'sha256', 'client', 'start', 'request_hash', 'queued_estimate', 'packages_key'] as const;

/** The database fields a summary is made of, as a projection. */
export const summaryProjection: Record<string, 1> = Object.fromEntries(
  ['_id', 'email', 'type', 'status', 'phase', 'source', 'created', 'verified', ...optional].map((k) => [k, 1]),
);

export function toSummary(job: Pick<Job, 'id' | 'email' | 'type' | 'status' | 'phase' | 'source' | 'created'> & Partial<Job> & { booted?: boolean }): JobSummary {
  const s: JobSummary = { id: job.id, email: job.email, type: job.type, status: job.status, phase: job.phase, source: job.source, created: job.created };
  for (const k of optional) if (job[k] !== undefined && job[k] !== null) (s as Record<string, unknown>)[k] = job[k];
  if (job.verified) s.booted = true;
  else if (job.booted !== undefined) s.booted = job.booted;
  return s;
}

/** A raw image_jobs document (as projected) to a summary. */
export function docToSummary(doc: Record<string, unknown>): JobSummary {
  return toSummary({ ...(doc as unknown as Job), id: String(doc._id) });
}
