// What anyone may see of a job: the fields the queue, a job page opened without its token, and a
// webhook's body all show. The submitter's address is masked; nothing of the kickstart is shown.
import { JobUrls } from '../layout/index.ts';
import type { Job } from './job.ts';
import { phaseTimes } from './phase-times.ts';

export type PublicFields = Pick<Job, 'id' | 'email' | 'type' | 'status' | 'phase' | 'created'> & Partial<Pick<Job, 'suite' | 'arch' | 'progress' | 'started' | 'finished' | 'duration_s' | 'start' | 'phase_at'>>;

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const user = at >= 0 ? email.slice(0, at) : email;
  const domain = at >= 0 ? email.slice(at + 1) : '';
  return `${user.slice(0, 1)}***@${domain}`;
}

export function publicJobFields(base: string, job: PublicFields): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: job.id, email: maskEmail(job.email), type: job.type, status: job.status, phase: job.phase, created: job.created,
  };
  for (const k of ['suite', 'arch', 'progress', 'started', 'finished', 'duration_s', 'start'] as const) if (job[k] !== undefined && job[k] !== null) out[k] = job[k];
  // Timings are public: how long it waited and how long each step of the build took.
  if (job.phase_at) out.phase_times = phaseTimes(job).map((p) => ({ phase: p.phase, start: p.start.toISOString(), seconds: p.seconds }));
  const urls = new JobUrls(base);
  return { ...out, links: { page: urls.page(job.id), api: urls.api(job.id) } };
}
