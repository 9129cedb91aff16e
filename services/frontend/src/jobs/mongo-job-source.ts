// Reads the job list for the in-memory index, and keeps the revision token every write sets.
// The collection is the job store's (`image_jobs`); read here directly because the store's list
// returns whole jobs (kickstart, template, history) and counts them, where the index wants a
// projection and no count.
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { JobSource } from './job-index.ts';
import { docToSummary, summaryProjection, type JobSummary } from './job-summary.ts';

const JOBS_COLLECTION = 'image_jobs';
const STATE_COLLECTION = 'frontend_state';
const REVISION_ID = 'image_jobs.revision';

interface StateDoc {
  _id: string;
  token: string;
  at: Date;
}

export class MongoJobSource implements JobSource {
  constructor(private readonly conn: Connection) {}

  private state() {
    return this.conn.collection<StateDoc>(STATE_COLLECTION);
  }

  async loadAll(): Promise<JobSummary[]> {
    const docs = await this.conn.collection(JOBS_COLLECTION).find({}, { projection: summaryProjection, batchSize: 5000 }).toArray();
    return docs.map((d) => docToSummary(d as Record<string, unknown>));
  }

  async revision(): Promise<string | undefined> {
    const doc = await this.state().findOne({ _id: REVISION_ID });
    return doc?.token;
  }

  /** Sets a new token; returns it and the one it replaced. `_id` lookups are the one query FerretDB answers from its index. */
  async bump(): Promise<{ previous: string | undefined; revision: string }> {
    const revision = randomUUID();
    const before = await this.state().findOneAndUpdate(
      { _id: REVISION_ID },
      { $set: { token: revision, at: new Date() } },
      { upsert: true, returnDocument: 'before' },
    );
    return { previous: before?.token, revision };
  }
}
