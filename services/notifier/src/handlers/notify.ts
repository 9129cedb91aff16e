// notify_queue → exactly one email per job outcome.
//
// Each try reads the outcome's record, sends, and writes the record while holding the record's
// lock, so a redelivered message or a second notifier finds the record and sends nothing. While the
// relay is down the message stays unacked and is tried again with a doubling wait, within a
// window; the lock is not held while waiting, and the other mails go on through the other prefetch
// slots. If the process dies, RabbitMQ redelivers the message and the next try picks it up.
// What is left: a crash after the relay accepted a mail and before its record was written sends
// that mail once more (a duplicate, never a loss); nothing else sends twice.
import { DeadLetter, type DeliveryInfo } from '@img/shared/broker';
import type { CancelledMessage, ErrorMessage, LinkMessage } from '@img/shared/contracts';
import { checkJobMessage, type JobStatus, type JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { isPermanentSmtpError, type Mailer } from '../mailer.ts';
import { NotificationStore, type Outcome } from '../notification-store.ts';
import { renderMail } from '../render.ts';

export type OutcomeMessage = LinkMessage | ErrorMessage | CancelledMessage;

export interface NotifyDeps {
  notifications: NotificationStore;
  jobs: Pick<JobStore, 'get'>;
  mailer: Mailer;
  log: Logger;
  publicUrl: string;
  /** IMG_TOKEN_SECRET: the emails' links carry the job's token. */
  tokenSecret: string;
  retentionDays: number;
  retry: { windowMs: number; maxDelayMs: number };
  /** Counts each send: what became of it. */
  counted?: (outcome: Outcome, state: 'sent' | 'rejected' | 'failed' | 'undeliverable') => void;
}

export function outcomeOf(msg: OutcomeMessage): Outcome {
  if ('sha256' in msg) return 'done';
  if ('code' in msg) return 'failed';
  return 'cancelled';
}

type Try = { state: 'handled' } | { state: 'retry'; error: Error } | { state: 'refused'; reason: string };

/**
 * The job states an outcome can be mailed in. A result may reach the notifier before the frontend
 * has recorded it, so the state before the outcome counts too; a late result of a cancelled job does not.
 */
const mailableIn: Record<Outcome, readonly JobStatus[]> = {
  done: ['queued', 'kickstarting', 'building', 'done'],
  failed: ['queued', 'kickstarting', 'building', 'failed'],
  cancelled: ['cancelled'],
};

export function notifyHandler(deps: NotifyDeps) {
  return async (msg: OutcomeMessage, info: DeliveryInfo): Promise<void> => {
    const outcome = outcomeOf(msg);
    const log = deps.log.child({ jobId: msg.id, outcome, delivery: info.attempt });
    const key = NotificationStore.key(msg.id, outcome);
    const deadline = Date.now() + deps.retry.windowMs;
    for (let tryNo = 1; ; tryNo++) {
      const result = await deps.notifications.lock.with(key, () => tryOnce(deps, msg, outcome, tryNo, log, Date.now() >= deadline));
      if (result.state === 'handled') return;
      if (result.state === 'refused') throw new DeadLetter(`${result.reason}: no email sent`);
      const delay = Math.min(deps.retry.maxDelayMs, 2000 * 2 ** (tryNo - 1), Math.max(0, deadline - Date.now()));
      log.warn({ err: result.error.message, try: tryNo, retryInMs: delay }, 'SMTP failed, trying again');
      await new Promise((r) => setTimeout(r, delay));
    }
  };
}

async function tryOnce(deps: NotifyDeps, msg: OutcomeMessage, outcome: Outcome, tryNo: number, log: Logger, last: boolean): Promise<Try> {
  const existing = await deps.notifications.get(msg.id, outcome);
  if (existing) {
    log.info({ state: existing.state }, 'already handled, not sending again');
    return { state: 'handled' };
  }
  const known = await checkJobMessage(deps.jobs, msg, mailableIn[outcome]);
  if (!known.ok && known.unknown) return { state: 'refused', reason: known.reason };
  if (!known.ok) {
    // A build that finishes after its job was cancelled: the person was told it was cancelled.
    log.info({ status: known.job?.status }, `${known.reason}; no email for this outcome`);
    return { state: 'handled' };
  }
  const { job } = known;
  // The address is the job's own, whatever the message says.
  const mail = await renderMail({ publicUrl: deps.publicUrl, retentionDays: deps.retentionDays, tokenSecret: deps.tokenSecret }, { ...msg, email: job.email }, job);
  const base = { job: msg.id, outcome, to: job.email, attempts: tryNo, at: new Date() };
  try {
    const { messageId } = await deps.mailer.send(mail);
    await deps.notifications.record({ ...base, state: 'sent', message_id: messageId });
    log.info({ try: tryNo }, 'email sent');
    deps.counted?.(outcome, 'sent');
    return { state: 'handled' };
  } catch (err) {
    const e = err as Error & { responseCode?: number };
    if (isPermanentSmtpError(err)) {
      await deps.notifications.record({ ...base, state: 'rejected', error: `${e.responseCode}: ${e.message}` });
      log.warn({ responseCode: e.responseCode }, 'the relay rejected the address; not retrying');
      deps.counted?.(outcome, 'rejected');
      return { state: 'handled' };
    }
    if (last) {
      await deps.notifications.record({ ...base, state: 'undeliverable', error: e.message });
      log.error({ err: e.message, try: tryNo }, 'email not delivered within the retry window');
      deps.counted?.(outcome, 'undeliverable');
      return { state: 'handled' };
    }
    deps.counted?.(outcome, 'failed');
    return { state: 'retry', error: e };
  }
}
