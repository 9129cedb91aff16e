// notify_queue → exactly one email per job outcome.
// The outcome's record is read and written while holding its lock, and the email is sent in
// between: a redelivery, or a second notifier, finds the record and sends nothing. The one window
// left is a crash after the relay accepted the mail and before the record is written: that mail is
// sent again on redelivery (a duplicate, never a loss).
import type { DeliveryInfo } from '@img/shared/broker';
import type { ErrorMessage, LinkMessage } from '@img/shared/contracts';
import { TransientError } from '@img/shared/errors';
import type { JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { isPermanentSmtpError, type Mailer } from '../mailer.ts';
import { NotificationStore, type Outcome } from '../notification-store.ts';
import { renderMail } from '../render.ts';

export interface NotifyDeps {
  notifications: NotificationStore;
  jobs: Pick<JobStore, 'get'>;
  mailer: Mailer;
  log: Logger;
  publicUrl: string;
  maxAttempts: number;
}

export function notifyHandler(deps: NotifyDeps) {
  return async (msg: LinkMessage | ErrorMessage, info: DeliveryInfo): Promise<void> => {
    const outcome: Outcome = 'sha256' in msg ? 'done' : 'failed';
    const log = deps.log.child({ jobId: msg.id, outcome, attempt: info.attempt });
    await deps.notifications.lock.with(NotificationStore.key(msg.id, outcome), async () => {
      const existing = await deps.notifications.get(msg.id, outcome);
      if (existing) {
        log.info({ state: existing.state }, 'already handled, not sending again');
        return;
      }
      const mail = await renderMail(deps.publicUrl, msg, await deps.jobs.get(msg.id));
      const base = { job: msg.id, outcome, to: msg.email, attempts: info.attempt, at: new Date() };
      try {
        const { messageId } = await deps.mailer.send(mail);
        await deps.notifications.record({ ...base, state: 'sent', message_id: messageId });
        log.info('email sent');
      } catch (err) {
        const e = err as Error & { responseCode?: number };
        if (isPermanentSmtpError(err)) {
          await deps.notifications.record({ ...base, state: 'rejected', error: `${e.responseCode}: ${e.message}` });
          log.warn({ responseCode: e.responseCode }, 'the relay rejected the address; not retrying');
          return;
        }
        if (info.attempt >= deps.maxAttempts) {
          await deps.notifications.record({ ...base, state: 'undeliverable', error: e.message });
          log.error({ err: e.message }, 'email not delivered after the last attempt');
          return;
        }
        throw new TransientError(`SMTP failed: ${e.message}`, err);
      }
    });
  };
}
