// webhook_queue → one signed post of the job's public JSON per outcome, to the job's callback_url.
// The job as the post shows it, and where it goes, come in the frontend's sealed notify message (the
// notifier reads no job records); an unsealed message posts nothing.
//
// As with the email: each try reads the delivery's record, posts and writes the record while
// holding its lock, so a redelivered message or a second notifier posts nothing more. A failed post
// is tried again with a doubling wait within a window, the message unacked meanwhile; if the
// process dies, RabbitMQ redelivers it and the next try picks it up. What is left: a crash after
// the receiver answered 2xx and before the record was written posts once more; the receiver tells
// the two apart by the same webhook-id.
import { routes, type Broker, type DeliveryInfo } from '@img/shared/broker';
import { deliveryStatusMessage, type NotifyMessage } from '@img/shared/contracts';
import { isSealedNotify, publicJobFields, type JobStatus } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { postWebhook, signatureHeaders, webhookSecret, WebhookSendError, type AddressPolicy } from '@img/shared/webhooks';
import type { Outcome } from '../notification-store.ts';
import { outcomeOf } from './notify.ts';
import { finalWebhookStates, type WebhookDelivery, type WebhookState, type WebhookStore } from '../webhook-store.ts';

export interface WebhookDeps {
  deliveries: WebhookStore;
  /** Tells the frontend what became of each post (`webhook_status`). */
  broker: Pick<Broker, 'publish'>;
  log: Logger;
  publicUrl: string;
  tokenSecret: string;
  hosts: string[];
  policy: AddressPolicy;
  timeoutMs: number;
  retry: { windowMs: number; maxDelayMs: number };
  counted?: (outcome: Outcome, state: 'delivered' | 'failed' | 'refused' | 'undeliverable') => void;
}

const statusOf: Record<Outcome, JobStatus> = { done: 'done', failed: 'failed', cancelled: 'cancelled' };

export function webhookHandler(deps: WebhookDeps) {
  const tell = (d: Omit<WebhookDelivery, '_id'>) => deps.broker.publish(routes.webhookStatus, deliveryStatusMessage, {
    id: d.job, outcome: d.outcome, channel: 'webhook', state: d.state, attempts: d.attempts, at: d.at.toISOString(),
    ...(d.error ? { error: d.error.slice(0, 2000) } : {}), ...(d.status_code ? { status_code: d.status_code } : {}),
  });
  return async (msg: NotifyMessage, info: DeliveryInfo): Promise<void> => {
    const outcome = msg.outcome;
    const log = deps.log.child({ jobId: msg.id, outcome, delivery: info.attempt, kind: 'webhook' });
    // A job without a callback gets no post; the email's handler dead-letters a forged message,
    // this copy of it is dropped.
    if (!isSealedNotify(deps.tokenSecret, msg) || msg.report.id !== msg.id || outcomeOf(msg.report) !== outcome) {
      log.warn('a notify message without the frontend\'s seal: no webhook posted');
      return;
    }
    if (!msg.job.callback_url) return;
    const url = msg.job.callback_url;
    const report = msg.report;
    const date = (s: string | undefined) => (s ? new Date(s) : undefined);
    const job = {
      ...msg.job, id: msg.id, email: msg.email, created: new Date(msg.job.created), started: date(msg.job.started), finished: date(msg.job.finished),
    };
    const key = `${msg.id}:${outcome}`;
    const deadline = Date.now() + deps.retry.windowMs;
    for (let tryNo = 1; ; tryNo++) {
      const result = await deps.deliveries.lock.with(key, async (): Promise<{ done: true } | { done: false; error: string }> => {
        const existing = await deps.deliveries.get(msg.id, outcome);
        if (existing && finalWebhookStates.includes(existing.state)) {
          log.info({ state: existing.state }, 'webhook already handled, not posting again');
          await tell(existing);
          return { done: true };
        }
        const attempts = (existing?.attempts ?? 0) + 1;
        // The job as it is now, with the outcome's state: the frontend may not have recorded it yet.
        const body = JSON.stringify({
          type: `job.${outcome}`,
          timestamp: new Date().toISOString(),
          data: {
            ...publicJobFields(deps.publicUrl, { ...job, status: statusOf[outcome] }),
            ...('sha256' in report ? { size: report.size, sha256: report.sha256 } : {}),
            // A .zst download: the image's own size and sha256 once decompressed.
            ...('sha256' in report && report.compression ? { compression: report.compression } : {}),
            ...('sha256' in report && report.disk_size !== undefined ? { disk_size: report.disk_size, disk_sha256: report.disk_sha256 } : {}),
            ...('code' in report ? { error_code: report.code } : {}),
          },
        });
        const headers = signatureHeaders(webhookSecret(deps.tokenSecret, msg.id), key, body);
        try {
          const status = await postWebhook(url, body, headers, { policy: deps.policy, hosts: deps.hosts, timeoutMs: deps.timeoutMs });
          const rec = { job: msg.id, outcome, state: 'delivered' as const, attempts, at: new Date(), status_code: status };
          await deps.deliveries.record(rec);
          log.info({ try: tryNo, status }, 'webhook delivered');
          await tell(rec);
          deps.counted?.(outcome, 'delivered');
          return { done: true };
        } catch (err) {
          const e = err as WebhookSendError;
          const refused = e instanceof WebhookSendError && e.refused;
          const state: WebhookState = refused ? 'refused' : Date.now() >= deadline ? 'undeliverable' : 'retrying';
          const rec = { job: msg.id, outcome, state, attempts, at: new Date(), error: e.message, ...(e.status ? { status_code: e.status } : {}) };
          await deps.deliveries.record(rec);
          await tell(rec);
          deps.counted?.(outcome, state === 'retrying' ? 'failed' : state);
          if (state !== 'retrying') {
            log.warn({ err: e.message, try: tryNo }, state === 'refused' ? 'webhook refused: the address is not allowed' : 'webhook not delivered within the retry window');
            return { done: true };
          }
          return { done: false, error: e.message };
        }
      });
      if (result.done) return;
      const delay = Math.min(deps.retry.maxDelayMs, 1000 * 2 ** (tryNo - 1), Math.max(0, deadline - Date.now()));
      log.warn({ err: result.error, try: tryNo, retryInMs: delay }, 'webhook failed, trying again');
      await new Promise((r) => setTimeout(r, delay));
    }
  };
}
