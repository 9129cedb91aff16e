// webhook_queue → one signed post of the job's public JSON per outcome, to the job's callback_url.
//
// As with the email: each try reads the delivery's record, posts and writes the record while
// holding its lock, so a redelivered message or a second notifier posts nothing more. A failed post
// is tried again with a doubling wait within a window, the message unacked meanwhile; if the
// process dies, RabbitMQ redelivers it and the next try picks it up. What is left: a crash after
// the receiver answered 2xx and before the record was written posts once more; the receiver tells
// the two apart by the same webhook-id.
import type { DeliveryInfo } from '@img/shared/broker';
import { checkJobMessage, publicJobFields, type JobStatus, type JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { postWebhook, signatureHeaders, webhookSecret, WebhookSendError, type AddressPolicy } from '@img/shared/webhooks';
import type { Outcome } from '../notification-store.ts';
import { outcomeOf, type OutcomeMessage } from './notify.ts';
import { finalWebhookStates, type WebhookStore } from '../webhook-store.ts';

export interface WebhookDeps {
  deliveries: WebhookStore;
  jobs: Pick<JobStore, 'get'>;
  log: Logger;
  publicUrl: string;
  tokenSecret: string;
  hosts: string[];
  policy: AddressPolicy;
  timeoutMs: number;
  retry: { windowMs: number; maxDelayMs: number };
  counted?: (outcome: Outcome, state: 'delivered' | 'failed' | 'refused' | 'undeliverable') => void;
}

const postableIn: Record<Outcome, readonly JobStatus[]> = {
  done: ['queued', 'kickstarting', 'building', 'done'],
  failed: ['queued', 'kickstarting', 'building', 'failed'],
  cancelled: ['cancelled'],
};
const statusOf: Record<Outcome, JobStatus> = { done: 'done', failed: 'failed', cancelled: 'cancelled' };

export function webhookHandler(deps: WebhookDeps) {
  return async (msg: OutcomeMessage, info: DeliveryInfo): Promise<void> => {
    const outcome = outcomeOf(msg);
    const log = deps.log.child({ jobId: msg.id, outcome, delivery: info.attempt, kind: 'webhook' });
    const known = await checkJobMessage(deps.jobs, msg, postableIn[outcome]);
    // A job without a callback, or one this message misdescribes, gets no post; the email's
    // handler dead-letters a forged message, this copy of it is dropped.
    if (!known.ok || !known.job.callback_url) return;
    const job = known.job;
    const url = job.callback_url!;
    const key = `${msg.id}:${outcome}`;
    const deadline = Date.now() + deps.retry.windowMs;
    for (let tryNo = 1; ; tryNo++) {
      const result = await deps.deliveries.lock.with(key, async (): Promise<{ done: true } | { done: false; error: string }> => {
        const existing = await deps.deliveries.get(msg.id, outcome);
        if (existing && finalWebhookStates.includes(existing.state)) {
          log.info({ state: existing.state }, 'webhook already handled, not posting again');
          return { done: true };
        }
        const attempts = (existing?.attempts ?? 0) + 1;
        // The job as it is now, with the outcome's state: the frontend may not have recorded it yet.
        const body = JSON.stringify({
          type: `job.${outcome}`,
          timestamp: new Date().toISOString(),
          data: {
            ...publicJobFields(deps.publicUrl, { ...job, status: statusOf[outcome] }),
            ...('sha256' in msg ? { size: msg.size, sha256: msg.sha256 } : {}),
            ...('code' in msg ? { error_code: msg.code } : {}),
          },
        });
        const headers = signatureHeaders(webhookSecret(deps.tokenSecret, msg.id), key, body);
        try {
          const status = await postWebhook(url, body, headers, { policy: deps.policy, hosts: deps.hosts, timeoutMs: deps.timeoutMs });
          await deps.deliveries.record({ job: msg.id, outcome, state: 'delivered', attempts, at: new Date(), status_code: status });
          log.info({ try: tryNo, status }, 'webhook delivered');
          deps.counted?.(outcome, 'delivered');
          return { done: true };
        } catch (err) {
          const e = err as WebhookSendError;
          const refused = e instanceof WebhookSendError && e.refused;
          const state = refused ? 'refused' : Date.now() >= deadline ? 'undeliverable' : 'retrying';
          await deps.deliveries.record({ job: msg.id, outcome, state, attempts, at: new Date(), error: e.message, ...(e.status ? { status_code: e.status } : {}) });
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
