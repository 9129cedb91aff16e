// Whether the person's email (and the webhook post) went out, as the notifier tells it: the notifier
// owns its sent-records and publishes what became of each (`email_status`, `webhook_status` on the
// result exchange); the frontend keeps the latest word per job and outcome in a collection of its
// own, and never reads the notifier's. Looked up by `_id`, the one query FerretDB answers from its index.
import mongoose, { type Connection, type Model } from 'mongoose';
import type { DeliveryStatusMessage } from '@img/shared/contracts';
import type { JobStatus } from '@img/shared/jobs';

interface StatusDoc {
  /** `<job>:<outcome>:<channel>` */
  _id: string;
  state: DeliveryStatusMessage['state'];
  attempts: number;
  at: Date;
  error?: string;
  status_code?: number;
}

const schema = new mongoose.Schema<StatusDoc>({
  _id: String, state: String, attempts: Number, at: Date, error: String, status_code: Number,
}, { collection: 'delivery_status', versionKey: false, strict: true });

export interface EmailState {
  state: 'sent' | 'not-delivered' | 'pending';
  error?: string;
  at?: Date;
}

export interface WebhookState {
  state: 'pending' | 'delivered' | 'retrying' | 'refused' | 'undeliverable';
  attempts?: number;
  at?: Date;
  status_code?: number;
  error?: string;
}

const finished = (s: JobStatus): s is 'done' | 'failed' | 'cancelled' => s === 'done' || s === 'failed' || s === 'cancelled';

export class DeliveryStatuses {
  private readonly model: Model<StatusDoc>;

  constructor(conn: Connection) {
    this.model = (conn.models.DeliveryStatus as Model<StatusDoc> | undefined) ?? conn.model<StatusDoc>('DeliveryStatus', schema);
  }

  async init(): Promise<void> {
    await this.model.createCollection().catch(() => {});
  }

  /**
   * Keeps the notifier's word. Statuses of one delivery can arrive out of order (a redelivered
   * `retrying` after the `delivered`): a final state is never replaced by a retrying one, and an
   * older word never replaces a newer one.
   */
  async record(m: DeliveryStatusMessage): Promise<void> {
    const _id = `${m.id}:${m.outcome}:${m.channel}`;
    const at = new Date(m.at);
    const doc = { state: m.state, attempts: m.attempts, at, ...(m.error ? { error: m.error } : {}), ...(m.status_code ? { status_code: m.status_code } : {}) };
    const current = await this.model.findById(_id).lean<StatusDoc>();
    if (current && (current.at > at || (current.state !== 'retrying' && m.state === 'retrying'))) return;
    await this.model.replaceOne({ _id }, doc, { upsert: true });
  }

  /** Undefined while the job has not finished: no email is due yet. */
  async forJob(id: string, status: JobStatus): Promise<EmailState | undefined> {
    if (!finished(status)) return undefined;
    const rec = await this.model.findById(`${id}:${status}:email`).lean<StatusDoc>();
    if (!rec) return { state: 'pending' };
    if (rec.state === 'sent') return { state: 'sent', at: rec.at };
    return { state: 'not-delivered', error: rec.error ?? rec.state, at: rec.at };
  }

  /** The webhook's delivery, for a job with a callback_url; undefined while the job has not finished. */
  async webhookFor(id: string, status: JobStatus): Promise<WebhookState | undefined> {
    if (!finished(status)) return undefined;
    const rec = await this.model.findById(`${id}:${status}:webhook`).lean<StatusDoc>();
    if (!rec) return { state: 'pending' };
    return {
      state: rec.state as WebhookState['state'], attempts: rec.attempts, at: rec.at,
      ...(rec.status_code ? { status_code: rec.status_code } : {}), ...(rec.error ? { error: rec.error } : {}),
    };
  }

  async remove(id: string): Promise<void> {
    await Promise.all(['done', 'failed', 'cancelled'].flatMap((o) => ['email', 'webhook'].map((c) => this.model.deleteOne({ _id: `${id}:${o}:${c}` }))));
  }
}
