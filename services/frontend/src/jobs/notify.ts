// The frontend's word to the notifier: after an outcome was checked against the job's record (the
// frontend owns the records, the notifier reads none of them), a sealed `notify` message says whom
// to tell (the record's address), what the email and the webhook show of the job, and the outcome.
import { routes, type Broker } from '@img/shared/broker';
import { notifyMessage, type CancelledMessage, type ErrorMessage, type LinkMessage, type NotifyMessage } from '@img/shared/contracts';
import { sealNotify, type Job } from '@img/shared/jobs';

export type Report = LinkMessage | ErrorMessage | CancelledMessage;

const iso = (d: Date | undefined) => (d ? new Date(d).toISOString() : undefined);

export function notice(secret: string, job: Job, outcome: NotifyMessage['outcome'], report: Report): NotifyMessage {
  const body = notifyMessage.omit({ seal: true }).parse({
    id: job.id,
    outcome,
    email: job.email,
    job: {
      type: job.type, status: job.status, phase: job.phase, created: iso(job.created),
      started: iso(job.started), finished: iso(job.finished), duration_s: job.duration_s, progress: job.progress,
      platform: job.platform, suite: job.suite, arch: job.arch, callback_url: job.callback_url,
    },
    // The report as it came, but addressed to the job's owner.
    report: { ...report, email: job.email },
  });
  return { ...body, seal: sealNotify(secret, body) };
}

export function publishNotice(broker: Pick<Broker, 'publish'>, secret: string, job: Job, outcome: NotifyMessage['outcome'], report: Report): Promise<void> {
  return broker.publish(routes.notify, notifyMessage, notice(secret, job, outcome, report));
}
