// Whether the person's email went out, read from the notifier's records (read only: the notifier
// owns the `notifications` collection). Looked up by `_id`, the one query FerretDB answers from its index.
import mongoose, { type Connection, type Model } from 'mongoose';
import type { JobStatus } from '@img/shared/jobs';

export interface NotificationRecord {
  _id: string;
  job: string;
  outcome: 'done' | 'failed' | 'cancelled';
  to: string;
  state: 'sent' | 'rejected' | 'undeliverable';
  attempts: number;
  at: Date;
  error?: string;
}

const schema = new mongoose.Schema<NotificationRecord>({
  _id: String, job: String, outcome: String, to: String, state: String, attempts: Number, at: Date, error: String,
}, { collection: 'notifications', versionKey: false, autoCreate: false, autoIndex: false, strict: true });

export interface EmailState {
  state: 'sent' | 'not-delivered' | 'pending';
  error?: string;
  at?: Date;
}

export class NotificationReader {
  private readonly model: Model<NotificationRecord>;
  private readonly webhooks: Model<WebhookRecord>;

  constructor(conn: Connection) {
    this.model = (conn.models.FrontendNotification as Model<NotificationRecord> | undefined)
      ?? conn.model<NotificationRecord>('FrontendNotification', schema);
    this.webhooks = (conn.models.FrontendWebhookDelivery as Model<WebhookRecord> | undefined)
      ?? conn.model<WebhookRecord>('FrontendWebhookDelivery', webhookSchema);
  }

  /** Undefined while the job has not finished: no email is due yet. */
  async forJob(id: string, status: JobStatus): Promise<EmailState | undefined> {
    if (status !== 'done' && status !== 'failed' && status !== 'cancelled') return undefined;
    const rec = await this.model.findById(`${id}:${status}`).lean<NotificationRecord>();
    if (!rec) return { state: 'pending' };
    if (rec.state === 'sent') return { state: 'sent', at: rec.at };
    return { state: 'not-delivered', error: rec.error ?? rec.state, at: rec.at };
  }

  /** The webhook's delivery, for a job with a callback_url; undefined while the job has not finished. */
  async webhookFor(id: string, status: JobStatus): Promise<WebhookState | undefined> {
    if (status !== 'done' && status !== 'failed' && status !== 'cancelled') return undefined;
    const rec = await this.webhooks.findById(`${id}:${status}`).lean<WebhookRecord>();
    if (!rec) return { state: 'pending' };
    return { state: rec.state, attempts: rec.attempts, at: rec.at, ...(rec.status_code ? { status_code: rec.status_code } : {}), ...(rec.error ? { error: rec.error } : {}) };
  }
}

interface WebhookRecord {
  _id: string;
  state: 'delivered' | 'retrying' | 'refused' | 'undeliverable';
  attempts: number;
  at: Date;
  status_code?: number;
  error?: string;
}

export interface WebhookState {
  state: 'pending' | WebhookRecord['state'];
  attempts?: number;
  at?: Date;
  status_code?: number;
  error?: string;
}

const webhookSchema = new mongoose.Schema<WebhookRecord>({
  _id: String, state: String, attempts: Number, at: Date, status_code: Number, error: String,
}, { collection: 'webhook_deliveries', versionKey: false, autoCreate: false, autoIndex: false, strict: false });
