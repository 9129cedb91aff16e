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

  constructor(conn: Connection) {
    this.model = (conn.models.FrontendNotification as Model<NotificationRecord> | undefined)
      ?? conn.model<NotificationRecord>('FrontendNotification', schema);
  }

  /** Undefined while the job has not finished: no email is due yet. */
  async forJob(id: string, status: JobStatus): Promise<EmailState | undefined> {
    if (status !== 'done' && status !== 'failed' && status !== 'cancelled') return undefined;
    const rec = await this.model.findById(`${id}:${status}`).lean<NotificationRecord>();
    if (!rec) return { state: 'pending' };
    if (rec.state === 'sent') return { state: 'sent', at: rec.at };
    return { state: 'not-delivered', error: rec.error ?? rec.state, at: rec.at };
  }
}
