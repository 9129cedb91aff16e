// notify_queue → exactly one email per job outcome.
//
// The notifier reads no job records: the frontend, which owns them, checks each outcome against the
// job's record and then publishes a sealed `notify` message with the record's address and what the
// email shows. A message without the frontend's seal (published straight to the broker, say) is
// dead-lettered and mails nobody.
//
// Each try reads the outcome's sent-record (the notifier's own), sends, and writes the record while
// holding the record's lock, so a redelivered message or a second notifier finds the record and
// sends nothing. While the relay is down the message stays unacked and is tried again with a
// doubling wait, within a window; the lock is not held while waiting, and the other mails go on
// through the other prefetch slots. If the process dies, RabbitMQ redelivers the message and the
// next try picks it up. What is left: a crash after the relay accepted a mail and before its record
// was written sends that mail once more (a duplicate, never a loss); nothing else sends twice.
// What became of the email is told to the frontend (`email_status`), again on every redelivery.
import { DeadLetter, routes, type Broker, type DeliveryInfo } from '@img/shared/broker';
import { deliveryStatusMessage, type CancelledMessage, type ErrorMessage, type LinkMessage, type NotifyMessage } from '@img/shared/contracts';
import { isSealedNotify } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { isPermanentSmtpError, type Mailer } from '../mailer.ts';
import { NotificationStore, type Notification, type Outcome } from '../notification-store.ts';
import { renderMail } from '../render.ts';

export type OutcomeMessage = LinkMessage | ErrorMessage | CancelledMessage;

export interface NotifyDeps {
  notifications: NotificationStore;
  mailer: Mailer;
  log: Logger;
  /** Tells the frontend what became of each email. */
  broker: Pick<Broker, 'publish'>;
  publicUrl: string;
  /** IMG_TOKEN_SECRET: the emails' links carry the job's token, and the frontend's seal is checked with it. */
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

type Try = { state: 'handled' } | { state: 'retry'; error: Error };

export function notifyHandler(deps: NotifyDeps) {
  return async (msg: NotifyMessage, info: DeliveryInfo): Promise<void> => {
    const outcome = msg.outcome;
    const log = deps.log.child({ jobId: msg.id, outcome, delivery: info.attempt });
    if (!isSealedNotify(deps.tokenSecret, msg) || msg.report.id !== msg.id || outcomeOf(msg.report) !== outcome) {
      throw new DeadLetter('the notify message carries no valid seal of the frontend, or its report is of another job or outcome: no email sent');
    }
    const key = NotificationStore.key(msg.id, outcome);
    const deadline = Date.now() + deps.retry.windowMs;
    for (let tryNo = 1; ; tryNo++) {
      const result = await deps.notifications.lock.with(key, () => tryOnce(deps, msg, tryNo, log, Date.now() >= deadline));
      if (result.state === 'handled') return;
      const delay = Math.min(deps.retry.maxDelayMs, 2000 * 2 ** (tryNo - 1), Math.max(0, deadline - Date.now()));
      log.warn({ err: result.error.message, try: tryNo, retryInMs: delay }, 'SMTP failed, trying again');
      await new Promise((r) => setTimeout(r, delay));
    }
  };
}

/** The frontend learns the email's fate from this, not from the notifier's records. */
async function tell(deps: NotifyDeps, n: Omit<Notification, '_id'>): Promise<void> {
  await deps.broker.publish(routes.emailStatus, deliveryStatusMessage, {
    id: n.job, outcome: n.outcome, channel: 'email', state: n.state, attempts: n.attempts, at: n.at.toISOString(),
    ...(n.error ? { error: n.error.slice(0, 2000) } : {}),
  });
}

async function tryOnce(deps: NotifyDeps, msg: NotifyMessage, tryNo: number, log: Logger, last: boolean): Promise<Try> {
  const outcome = msg.outcome;
  const existing = await deps.notifications.get(msg.id, outcome);
  if (existing) {
    log.info({ state: existing.state }, 'already handled, not sending again');
    await tell(deps, existing);
    return { state: 'handled' };
  }
  // The address is the job record's, as the frontend put it in the notify message.
  const mail = await renderMail({ publicUrl: deps.publicUrl, retentionDays: deps.retentionDays, tokenSecret: deps.tokenSecret }, { ...msg.report, email: msg.email }, msg.job);
  const base = { job: msg.id, outcome, to: msg.email, attempts: tryNo, at: new Date() };
  try {
    const { messageId } = await deps.mailer.send(mail);
    const rec = { ...base, state: 'sent' as const, message_id: messageId };
    await deps.notifications.record(rec);
    log.info({ try: tryNo }, 'email sent');
    deps.counted?.(outcome, 'sent');
    await tell(deps, rec);
    return { state: 'handled' };
  } catch (err) {
    const e = err as Error & { responseCode?: number };
    if (isPermanentSmtpError(err)) {
      const rec = { ...base, state: 'rejected' as const, error: `${e.responseCode}: ${e.message}` };
      await deps.notifications.record(rec);
      log.warn({ responseCode: e.responseCode }, 'the relay rejected the address; not retrying');
      deps.counted?.(outcome, 'rejected');
      await tell(deps, rec);
      return { state: 'handled' };
    }
    if (last) {
      const rec = { ...base, state: 'undeliverable' as const, error: e.message };
      await deps.notifications.record(rec);
      log.error({ err: e.message, try: tryNo }, 'email not delivered within the retry window');
      deps.counted?.(outcome, 'undeliverable');
      await tell(deps, rec);
      return { state: 'handled' };
    }
    deps.counted?.(outcome, 'failed');
    return { state: 'retry', error: e };
  }
}
