// A job as each kind of client may see it. The public view (anyone with the id: the queue, a
// job page opened without its token) holds only harmless fields: the submitter masked, the type,
// the state, the place in the queue and the timings. The full view is for the job's owner (its
// token) and the operator, with passwords in the kickstart blanked unless revealed.
import { phaseTimes, publicJobFields, terminalStatuses, type Job } from '@img/shared/jobs';
import { JobUrls } from '@img/shared/layout';
import { tokenQuery } from '../http/job-access.ts';
import type { QueueSpot } from '../jobs/queue-estimate.ts';
import type { EmailState, WebhookState } from '../jobs/delivery-status.ts';
import type { JobSummary } from '../jobs/job-summary.ts';
import { redactSecrets } from '../jobs/redact-secrets.ts';

type Shown = Pick<Job, 'id' | 'email' | 'type' | 'status' | 'phase' | 'created'> & Partial<Pick<Job, 'suite' | 'arch' | 'progress' | 'started' | 'finished' | 'duration_s' | 'start' | 'phase_at' | 'queued_estimate'>>;

const iso = (d: Date | string) => new Date(d).toISOString();

/**
 * The place in the queue and the estimates: while the job waits or builds, as the queue stands now;
 * once it has ended, the estimate made when it was queued, beside the actual start and finish.
 */
export function estimateFields(job: Pick<Shown, 'status' | 'created' | 'started' | 'finished' | 'queued_estimate'>, spot: QueueSpot | undefined) {
  const out: Record<string, unknown> = {};
  if (spot && !terminalStatuses.includes(job.status)) {
    if (spot.position > 0) out.queue_position = spot.position;
    if (spot.startAt) out.estimated_start = spot.startAt.toISOString();
    if (spot.finishAt) out.estimated_finish = spot.finishAt.toISOString();
    if (spot.typical) Object.assign(out, { estimated_build_s: Math.round(spot.typical.seconds * 10) / 10, estimate_basis: spot.typical.basis });
    return out;
  }
  const q = job.queued_estimate;
  if (q) Object.assign(out, { estimated_start: iso(q.start), estimated_finish: iso(q.finish), estimated_build_s: Math.round(q.build_s * 10) / 10, estimate_basis: `${q.basis}; made when queued` });
  if (job.finished) {
    // A job answered without a build (an identical request) started when it ended.
    out.actual_start = iso(job.started ?? job.finished);
    out.actual_finish = iso(job.finished);
    if (q) out.estimate_error_pct = estimateErrorPct(job.created, q.finish, job.finished);
  }
  return out;
}

/**
 * How far off the finish estimated at queueing was, as a share of the time the job actually took
 * from queueing to its end (at least 10 s, so an instant answer is judged on seconds, not on a ratio to nothing).
 */
export function estimateErrorPct(created: Date, estimatedFinish: Date, finished: Date): number {
  const took = Math.max(10_000, new Date(finished).getTime() - new Date(created).getTime());
  return Math.round((Math.abs(new Date(finished).getTime() - new Date(estimatedFinish).getTime()) / took) * 1000) / 10;
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
  return { ...out, ...estimateFields(job, spot), links };
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
  const { logfile: _l, client: _c, kickstart: _k, config: _g, phase_at: _p, queued_estimate: _q, ...rest } = job as Job & { client?: string };
  const sources = shownSources(job, opts.reveal ?? false);
  const shown: Record<string, unknown> = { ...rest };
  for (const [k, v] of Object.entries(sources)) if (v !== undefined) shown[k] = v;
  return {
    ...shown, ...(job.phase_at ? { phase_times: phaseTimes(job).map((p) => ({ phase: p.phase, start: p.start.toISOString(), seconds: p.seconds })) } : {}),
    token, ...estimateFields(job, opts.spot), ...(opts.email ? { email_status: opts.email } : {}), ...(opts.webhook ? { webhook_status: opts.webhook } : {}),
    links: ownerLinks(base, job, token),
  };
}

/** What the job page's timing section shows: the estimates, the actual figures once ended, and the phase bar. */
export function timingView(job: Job, spot: QueueSpot | undefined, now: Date) {
  const f = estimateFields(job, spot);
  const date = (k: string) => (typeof f[k] === 'string' ? new Date(f[k] as string) : undefined);
  const phases = phaseTimes(job, now);
  const total = phases.reduce((t, p) => t + p.seconds, 0);
  return {
    estStart: date('estimated_start'), estFinish: date('estimated_finish'), basis: f.estimate_basis as string | undefined,
    actualStart: date('actual_start'), actualFinish: date('actual_finish'), errorPct: f.estimate_error_pct as number | undefined,
    // Shares of the bar; a phase too short to see still gets a sliver, and the shares add up to 100.
    phases: shares(phases.map((p) => p.seconds)).map((pct, i) => ({ ...phases[i]!, pct })), total,
  };
}

function shares(xs: number[]): number[] {
  const total = xs.reduce((a, b) => a + b, 0);
  if (total <= 0) return xs.map(() => 0);
  const raw = xs.map((x) => Math.max(0.5, (x / total) * 100));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((x) => (x / sum) * 100);
}
