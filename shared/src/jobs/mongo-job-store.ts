// The job store on mongoose. Every state change is a conditional update made while holding the
// job's lock, so two deliveries of the same message racing each other move a job at most once.
//
// Why a lock: FerretDB 1.x (the local database) runs findAndModify as a query, a filter in Go and
// then a write by _id, so two racing conditional updates can both match. What it does atomically
// is refuse a second document with the same _id (SQLite's unique index). The lock is such a
// document; on MongoDB the conditional update alone would do, and the lock costs two round trips.
import mongoose, { type Connection, type Model } from 'mongoose';
import { DocLock } from './doc-lock.ts';
import { buildStarts, phases, imageTypes, type Phase } from '../contracts/index.ts';
import { errorCodes } from '../errors/index.ts';
import { allowedFrom, jobStatuses, newJobId, phaseRank, statusForPhase, type Job, type JobStatus, type NewJob } from './job.ts';
import type { JobFilter, JobPatch, JobStore, Page } from './job-store.ts';

interface JobDoc extends Omit<Job, 'id'> {
  _id: string;
  phase_rank: number;
}

const historySchema = new mongoose.Schema({
  status: { type: String, enum: jobStatuses, required: true },
  phase: { type: String, enum: phases },
  at: { type: Date, required: true },
}, { _id: false });

const imageJobSchema = new mongoose.Schema<JobDoc>({
  _id: { type: String, required: true },
  email: { type: String, required: true, maxlength: 254 },
  type: { type: String, enum: imageTypes, required: true },
  status: { type: String, enum: jobStatuses, required: true },
  phase: { type: String, enum: phases, required: true },
  phase_rank: { type: Number, required: true },
  progress: Number,
  source: { type: String, enum: ['kickstart', 'template'], required: true },
  kickstart: String,
  config: String,
  platform: String,
  overlay: String,
  suite: String,
  arch: String,
  callback_url: { type: String, maxlength: 2048 },
  rebuild: Boolean,
  filename: String,
  logfile: String,
  imagefile: String,
  url: String,
  logurl: String,
  size: Number,
  sha256: String,
  compression: { type: String, enum: ['zstd', 'qcow2'] },
  disk_size: Number,
  disk_sha256: String,
  request_hash: String,
  client: { type: String, maxlength: 64 },
  verified: { type: new mongoose.Schema({ ok: Boolean, detail: String, seconds: Number }, { _id: false }), default: undefined },
  package_check: {
    type: new mongoose.Schema({ how: { type: String, enum: ['submission', 'build', 'skipped'] }, detail: { type: String, maxlength: 1000 }, read_at: Date }, { _id: false }),
    default: undefined,
  },
  warnings: { type: [new mongoose.Schema({ line: Number, message: { type: String, maxlength: 1000 } }, { _id: false })], default: undefined },
  start: { type: String, enum: buildStarts },
  packages_key: { type: String, maxlength: 64 },
  phase_at: { type: new mongoose.Schema(Object.fromEntries(phases.map((p) => [p, Date])), { _id: false }), default: undefined },
  queued_estimate: {
    type: new mongoose.Schema({ start: Date, finish: Date, build_s: Number, basis: { type: String, maxlength: 200 }, slots: Number }, { _id: false }),
    default: undefined,
  },
  error: { type: String, maxlength: 20_000 },
  error_code: { type: String, enum: Object.keys(errorCodes) },
  error_excerpt: [String],
  created: { type: Date, required: true },
  started: Date,
  finished: Date,
  duration_s: Number,
  history: [historySchema],
}, { collection: 'image_jobs', versionKey: false, minimize: true });
imageJobSchema.index({ created: -1 });
imageJobSchema.index({ status: 1, created: -1 });
imageJobSchema.index({ email: 1, created: -1 });

/** A holder that crashed mid-update leaves its lock behind; after this long it is broken. */
const LOCK_LEASE_MS = 15_000;
const LOCK_WAIT_MS = 20_000;

function toJob(doc: JobDoc): Job {
  const { _id, phase_rank: _rank, ...rest } = doc;
  return { id: _id, ...rest };
}

export class MongoJobStore implements JobStore {
  private readonly model: Model<JobDoc>;
  private readonly locks: DocLock;

  constructor(conn: Connection) {
    // The model lives on the connection given, not on mongoose's global one.
    this.model = conn.models.ImageJob as Model<JobDoc> | undefined ?? conn.model<JobDoc>('ImageJob', imageJobSchema);
    this.locks = new DocLock(conn, 'image_job_locks', { leaseMs: LOCK_LEASE_MS, waitMs: LOCK_WAIT_MS });
  }

  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.with(id, fn);
  }

  async init(): Promise<void> {
    await this.model.createIndexes();
    await this.locks.init();
  }

  async create(job: NewJob): Promise<Job> {
    const now = new Date();
    const doc = await this.model.create({
      ...job,
      _id: newJobId(),
      status: 'queued',
      phase: 'queued',
      phase_rank: 0,
      created: now,
      phase_at: { queued: now },
      history: [{ status: 'queued', phase: 'queued', at: now }],
    });
    return toJob(doc.toObject());
  }

  async get(id: string): Promise<Job | null> {
    const doc = await this.model.findById(id).lean<JobDoc>();
    return doc ? toJob(doc) : null;
  }

  async list(filter: JobFilter, page: Page): Promise<{ jobs: Job[]; total: number }> {
    const q: Record<string, unknown> = {};
    if (filter.status) q.status = Array.isArray(filter.status) ? { $in: filter.status } : filter.status;
    if (filter.email) q.email = filter.email;
    const [docs, total] = await Promise.all([
      this.model.find(q).sort({ created: -1, _id: 1 }).skip(page.skip).limit(page.limit).lean<JobDoc[]>(),
      this.model.countDocuments(q),
    ]);
    return { jobs: docs.map(toJob), total };
  }

  async transition(id: string, to: JobStatus, patch: JobPatch = {}): Promise<Job | null> {
    const now = new Date();
    const set: Record<string, unknown> = { ...patch, status: to };
    if (to === 'done' || to === 'failed' || to === 'cancelled') set.finished = now;
    if (patch.phase) set.phase_rank = phaseRank[patch.phase];
    const doc = await this.withLock(id, () => this.model.findOneAndUpdate(
      { _id: id, status: { $in: allowedFrom[to] } },
      { $set: set, $push: { history: { status: to, ...(patch.phase ? { phase: patch.phase } : {}), at: now } } },
      { new: true },
    ).lean<JobDoc>());
    return doc ? toJob(doc) : null;
  }

  advancePhase(id: string, phase: Phase, patch: JobPatch = {}): Promise<Job | null> {
    return this.withLock(id, () => this.advancePhaseLocked(id, phase, patch));
  }

  private async advancePhaseLocked(id: string, phase: Phase, patch: JobPatch): Promise<Job | null> {
    const status = statusForPhase(phase);
    const rank = phaseRank[phase];
    const now = new Date();
    const set: Record<string, unknown> = { ...patch, phase, phase_rank: rank };
    // The first time a phase is seen is when it began (phase-times.ts); a repeat keeps that time.
    // Read under the job's lock, so no other write of the frontend comes between.
    const seen = await this.model.findById(id, { phase_at: 1 }).lean<Pick<JobDoc, 'phase_at'>>();
    if (!seen) return null;
    if (!seen.phase_at?.[phase]) set[`phase_at.${phase}`] = now;
    // Entering a new state: recorded in the history.
    const entered = await this.model.findOneAndUpdate(
      { _id: id, status: { $in: allowedFrom[status] }, phase_rank: { $lte: rank } },
      {
        $set: { ...set, status, ...(status === 'building' ? { started: now } : {}) },
        $push: { history: { status, phase, at: now } },
      },
      { new: true },
    ).lean<JobDoc>();
    if (entered) return toJob(entered);
    // Already in that state: the phase moves forward only.
    const moved = await this.model.findOneAndUpdate(
      { _id: id, status, phase_rank: { $lte: rank } },
      { $set: set },
      { new: true },
    ).lean<JobDoc>();
    return moved ? toJob(moved) : null;
  }

  async delete(id: string): Promise<Job | null> {
    const doc = await this.model.findOneAndDelete({ _id: id }).lean<JobDoc>();
    return doc ? toJob(doc) : null;
  }
}

/** Connects with retries, saying where and how often it tried. */
export async function connectDatabase(url: string, opts: {
  onRetry?: (attempt: number, delayMs: number, err: Error) => void;
  maxAttempts?: number;
} = {}): Promise<Connection> {
  for (let attempt = 1; ; attempt++) {
    const conn = mongoose.createConnection(url, { serverSelectionTimeoutMS: 3000, autoIndex: false });
    try {
      await conn.asPromise();
      return conn;
    } catch (err) {
      await conn.close().catch(() => {});
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) {
        throw new Error(`the database at ${url.replace(/\/\/[^@/]*@/, '//***@')} is unreachable after ${attempt} attempts: ${(err as Error).message}`, { cause: err });
      }
      const delay = Math.min(15_000, 500 * 2 ** (attempt - 1));
      opts.onRetry?.(attempt, delay, err as Error);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
