// A job as each kind of client may see it. The public view (anyone with the id: the queue, a
// job page opened without its token) holds only harmless fields: the submitter masked, the type,
// the state, the place in the queue and the timings. The full view is for the job's owner (its
// token) and the operator, with passwords in the kickstart blanked unless revealed.
import { publicJobFields, type Job } from '@img/shared/jobs';
import { JobUrls } from '@img/shared/layout';
import { tokenQuery } from '../http/job-access.ts';
import type { QueueSpot } from '../jobs/queue-estimate.ts';
import type { EmailState, WebhookState } from '../jobs/notifications.ts';
import type { JobSummary } from '../jobs/job-summary.ts';
import { redactSecrets } from '../jobs/redact-secrets.ts';

type Shown = Pick<Job, 'id' | 'email' | 'type' | 'status' | 'phase' | 'created'> & Partial<Pick<Job, 'suite' | 'arch' | 'progress' | 'started' | 'finished' | 'duration_s'>>;

function queueFields(spot: QueueSpot | undefined) {
  if (!spot) return {};
  return { queue_position: spot.position, ...(spot.startAt ? { estimated_start: spot.startAt.toISOString() } : {}) };
}

/** Every link of the job, each carrying its token. */
export function ownerLinks(base: string, job: Pick<Job, 'id' | 'status'>, token: string) {
  const q = tokenQuery(token);
  const urls = new JobUrls(base);
  return {
    page: `${urls.page(job.id)}${q}`,
    api: `${urls.api(job.id)}${q}`,
    kickstart: `${urls.api(job.id)}/kickstart${q}`,
    log: `${urls.api(job.id)}/log${q}`,
    events: `${urls.api(job.id)}/events${q}`,
    ...(job.status === 'done' ? { image: `${urls.image(job.id)}${q}` } : {}),
  };
}

/** What anyone may see of a job: in the queue, and on its page or API without the token. */
export function publicJobView(base: string, job: Shown | JobSummary, spot?: QueueSpot) {
  const { links, ...out } = publicJobFields(base, job);
  return { ...out, ...queueFields(spot), links };
}

/** The kickstart and template with their passwords blanked, unless `reveal`. */
export function shownSources(job: Pick<Job, 'kickstart' | 'config'>, reveal: boolean): Pick<Job, 'kickstart' | 'config'> & { secrets_redacted?: boolean } {
  if (reveal) return { kickstart: job.kickstart, config: job.config };
  const ks = job.kickstart !== undefined ? redactSecrets(job.kickstart) : undefined;
  const cfg = job.config !== undefined ? redactSecrets(job.config) : undefined;
  const redacted = (ks?.redacted ?? 0) + (cfg?.redacted ?? 0) > 0;
  return { kickstart: ks?.text, config: cfg?.text, ...(redacted ? { secrets_redacted: true } : {}) };
}

/** The whole job, for its owner and the operator: no paths inside the server, passwords blanked unless revealed. */
export function fullJobView(base: string, job: Job, token: string, opts: { spot?: QueueSpot; email?: EmailState; webhook?: WebhookState | undefined; reveal?: boolean } = {}) {
  const { logfile: _l, client: _c, kickstart: _k, config: _g, ...rest } = job as Job & { client?: string };
  const sources = shownSources(job, opts.reveal ?? false);
  const shown: Record<string, unknown> = { ...rest };
  for (const [k, v] of Object.entries(sources)) if (v !== undefined) shown[k] = v;
  return {
    ...shown, token, ...queueFields(opts.spot), ...(opts.email ? { email_status: opts.email } : {}), ...(opts.webhook ? { webhook_status: opts.webhook } : {}),
    links: ownerLinks(base, job, token),
  };
}
