// A named lock held as a document: taking it is inserting a document with that _id, which the
// database refuses twice (a unique index, atomic on MongoDB and on FerretDB's SQLite alike).
// A holder that crashed leaves its lock behind; after the lease it may be broken.
import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, type Model } from 'mongoose';
import { TransientError } from '../errors/index.ts';

interface LockDoc {
  _id: string;
  owner: string;
  at: Date;
}

const lockSchema = new mongoose.Schema<LockDoc>({
  _id: { type: String, required: true },
  owner: { type: String, required: true },
  at: { type: Date, required: true },
}, { versionKey: false });

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}

export class DocLock {
  private readonly model: Model<LockDoc>;

  constructor(conn: Connection, collection: string, private readonly opts: { leaseMs: number; waitMs: number }) {
    const name = `Lock_${collection}`;
    this.model = (conn.models[name] as Model<LockDoc> | undefined) ?? conn.model<LockDoc>(name, lockSchema, collection);
  }

  async init(): Promise<void> {
    await this.model.createCollection().catch(() => {});
  }

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    const deadline = Date.now() + this.opts.waitMs;
    for (;;) {
      try {
        await this.model.create({ _id: key, owner, at: new Date() });
        break;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const held = await this.model.findById(key).lean<LockDoc>();
        if (held && Date.now() - held.at.getTime() > this.opts.leaseMs) {
          await this.model.deleteOne({ _id: key, owner: held.owner });
          continue;
        }
        if (Date.now() > deadline) throw new TransientError(`${key} stayed locked for ${this.opts.waitMs} ms`);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 25));
      }
    }
    try {
      return await fn();
    } finally {
      await this.model.deleteOne({ _id: key, owner }).catch(() => {});
    }
  }
}
