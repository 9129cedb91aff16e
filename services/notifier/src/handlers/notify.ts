// notify_queue → exactly one email per job outcome.
//
// Each try reads the outcome's record, sends, and writes the record while holding the record's
// lock, so a redelivered message or a second notifier finds the record and sends nothing. While the
// relay is down the message stays unacked and is tried again with a doubling wait, within a
// window; the lock is not held while waiting, and the other mails go on through the other prefetch
// slots. If the process dies, RabbitMQ redelivers the message and the next try picks it up.
// What is left: a crash after the relay accepted a mail and before its record was written sends
// that mail once more (a duplicate, never a loss); nothing else sends twice.
import type { DeliveryInfo } from '@img/shared/broker';
import type { CancelledMessage, ErrorMessage, LinkMessage } from '@img/shared/contracts';
import type { JobStore } from '@img/shared/jobs';
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
}

export function outcomeOf(msg: OutcomeMessage): Outcome {
  if ('sha256' in msg) return 'done';
  if ('code' in msg) return 'failed';
  return 'cancelled';
}

type Try = { state: 'handled' } | { state: 'retry'; error: Error };

export function notifyHandler(deps: NotifyDeps) {
  return async (msg: OutcomeMessage, info: DeliveryInfo): Promise<void> => {
    const outcome = outcomeOf(msg);
    const log = deps.log.child({ jobId: msg.id, outcome, delivery: info.attempt });
    const key = NotificationStore.key(msg.id, outcome);
    const deadline = Date.now() + deps.retry.windowMs;
    for (let tryNo = 1; ; tryNo++) {
      const result = await deps.notifications.lock.with(key, () => tryOnce(deps, msg, outcome, tryNo, log, Date.now() >= deadline));
      if (result.state === 'handled') return;
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
  const job = await deps.jobs.get(msg.id);
  // A build that finishes after its job was cancelled: the person was told it was cancelled.
  if (job?.status === 'cancelled' && outcome !== 'cancelled') {
    log.info('job was cancelled; no email for its late result');
    return { state: 'handled' };
  }
  const mail = await renderMail({ publicUrl: deps.publicUrl, retentionDays: deps.retentionDays, tokenSecret: deps.tokenSecret }, msg, job);
  const base = { job: msg.id, outcome, to: msg.email, attempts: tryNo, at: new Date() };
  try {
    const { messageId } = await deps.mailer.send(mail);
    await deps.notifications.record({ ...base, state: 'sent', message_id: messageId });
    log.info({ try: tryNo }, 'email sent');
    return { state: 'handled' };
  } catch (err) {
    const e = err as Error & { responseCode?: number };
    if (isPermanentSmtpError(err)) {
      await deps.notifications.record({ ...base, state: 'rejected', error: `${e.responseCode}: ${e.message}` });
      log.warn({ responseCode: e.responseCode }, 'the relay rejected the address; not retrying');
      return { state: 'handled' };
    }
    if (last) {
      await deps.notifications.record({ ...base, state: 'undeliverable', error: e.message });
      log.error({ err: e.message, try: tryNo }, 'email not delivered within the retry window');
      return { state: 'handled' };
    }
    return { state: 'retry', error: e };
  }
}
