// The record of what was sent, keyed by job and outcome, so a redelivered message or a second
// notifier does not send again. Sending happens while holding the record's lock.
import mongoose, { type Connection, type Model } from 'mongoose';
import { DocLock } from '@img/shared/jobs';

export type Outcome = 'done' | 'failed' | 'cancelled';

export interface Notification {
  _id: string;
  job: string;
  outcome: Outcome;
  to: string;
  state: 'sent' | 'rejected' | 'undeliverable';
  attempts: number;
  at: Date;
  message_id?: string;
  error?: string;
}

const schema = new mongoose.Schema<Notification>({
  _id: { type: String, required: true },
  job: { type: String, required: true, index: true },
  outcome: { type: String, required: true },
  to: { type: String, required: true },
  state: { type: String, required: true },
  attempts: { type: Number, required: true },
  at: { type: Date, required: true },
  message_id: String,
  error: String,
}, { collection: 'notifications', versionKey: false });

export class NotificationStore {
  private readonly model: Model<Notification>;
  readonly lock: DocLock;

  constructor(conn: Connection, leaseMs: number) {
    this.model = (conn.models.Notification as Model<Notification> | undefined) ?? conn.model<Notification>('Notification', schema);
    this.lock = new DocLock(conn, 'notification_locks', { leaseMs, waitMs: leaseMs + 5000 });
  }

  async init(): Promise<void> {
    await this.model.createIndexes();
    await this.lock.init();
  }

  static key(job: string, outcome: Outcome): string {
    return `${job}:${outcome}`;
  }

  get(job: string, outcome: Outcome): Promise<Notification | null> {
    return this.model.findById(NotificationStore.key(job, outcome)).lean<Notification>();
  }

  forJob(job: string): Promise<Notification[]> {
    return this.model.find({ job }).lean<Notification[]>();
  }

  async record(n: Omit<Notification, '_id'>): Promise<void> {
    await this.model.updateOne({ _id: NotificationStore.key(n.job, n.outcome) }, { $set: n }, { upsert: true });
  }
}
