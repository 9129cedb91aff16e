// The record of each webhook delivery, keyed by job and outcome, as the email has its own: a
// redelivered message or a second notifier finds a final record and posts nothing. While tries
// fail the record says so (state 'retrying', the last error), so the job page can show it.
import mongoose, { type Connection, type Model } from 'mongoose';
import { DocLock } from '@img/shared/jobs';
import type { Outcome } from './notification-store.ts';

export type WebhookState = 'delivered' | 'retrying' | 'refused' | 'undeliverable';

export interface WebhookDelivery {
  _id: string;
  job: string;
  outcome: Outcome;
  state: WebhookState;
  attempts: number;
  at: Date;
  status_code?: number;
  error?: string;
}

const schema = new mongoose.Schema<WebhookDelivery>({
  _id: { type: String, required: true },
  job: { type: String, required: true, index: true },
  outcome: { type: String, required: true },
  state: { type: String, required: true },
  attempts: { type: Number, required: true },
  at: { type: Date, required: true },
  status_code: Number,
  error: String,
}, { collection: 'webhook_deliveries', versionKey: false });

export const finalWebhookStates: readonly WebhookState[] = ['delivered', 'refused', 'undeliverable'];

export class WebhookStore {
  private readonly model: Model<WebhookDelivery>;
  readonly lock: DocLock;

  constructor(conn: Connection, leaseMs: number) {
    this.model = (conn.models.WebhookDelivery as Model<WebhookDelivery> | undefined) ?? conn.model<WebhookDelivery>('WebhookDelivery', schema);
    this.lock = new DocLock(conn, 'webhook_locks', { leaseMs, waitMs: leaseMs + 5000 });
  }

  async init(): Promise<void> {
    await this.model.createIndexes();
    await this.lock.init();
  }

  static key(job: string, outcome: Outcome): string {
    return `${job}:${outcome}`;
  }

  get(job: string, outcome: Outcome): Promise<WebhookDelivery | null> {
    return this.model.findById(WebhookStore.key(job, outcome)).lean<WebhookDelivery>();
  }

  async record(d: Omit<WebhookDelivery, '_id'>): Promise<void> {
    await this.model.updateOne({ _id: WebhookStore.key(d.job, d.outcome) }, { $set: d }, { upsert: true });
  }
}
