// Identical requests are built once. A request is identified by a hash of its normalised form:
// the kickstart as the one writer prints its plan (so comments, spacing and option order do not
// matter), the image type, the builder version, and the suite and architecture it is built for.
// The registry maps that hash to the build that makes it: one claims it and builds; the others wait
// for it, or are answered from it.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mongoose, { type Connection, type Model } from 'mongoose';
import { kickstartFromPlan, type BuildPlan } from '../kickstart/index.ts';
import { DocLock } from '../jobs/doc-lock.ts';

const builderDir = fileURLToPath(new URL('../../../deploy/builder/', import.meta.url));

/**
 * The builder's version: a hash of its whole recipe, the one the builder image is tagged with. A new
 * recipe builds new images, even for the same kickstart. Computed in one place, by the script that
 * builds the image.
 */
export function builderVersion(dir = builderDir): string {
  return execFileSync('bash', [join(dir, 'build-image.sh'), '--print-version'], { encoding: 'utf8' }).trim();
}

/**
 * The suite and the architecture are named apart from the kickstart: a kickstart without repo lines
 * prints the same for every suite, and is a different request for each.
 */
export function requestHash(plan: BuildPlan, imagetype: string, builder: string): string {
  const h = createHash('sha256').update(kickstartFromPlan(plan));
  for (const part of [imagetype, builder, `suite=${plan.suite}`, `arch=${plan.architecture}`]) h.update('\0').update(part);
  return h.digest('hex');
}

export interface BuiltImage {
  /** The job whose build made the file, and the file under images/<job>/. */
  job: string;
  filename: string;
  size: number;
  sha256: string;
  duration_s: number;
  verified?: { ok: boolean; detail: string; seconds: number };
  /** How the file is compressed, and the image's own size and sha256 (see the link message's deliveryFields). */
  compression?: 'zstd' | 'qcow2';
  disk_size?: number;
  disk_sha256?: string;
}

interface BuildDoc {
  _id: string;
  state: 'building' | 'done';
  job: string;
  /** Which delivery of the job builds it; absent in claims made before deliveries were told apart. */
  owner?: string;
  started: Date;
  /** The builder building it said it is alive; a claim whose builder went quiet is free again. */
  beat?: Date;
  finished?: Date;
  image?: BuiltImage;
}

const buildSchema = new mongoose.Schema<BuildDoc>({
  _id: { type: String, required: true },
  state: { type: String, required: true },
  job: { type: String, required: true },
  owner: String,
  started: { type: Date, required: true },
  beat: Date,
  finished: Date,
  image: { type: mongoose.Schema.Types.Mixed },
}, { collection: 'builds', versionKey: false });

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'done'; image: BuiltImage }
  | { kind: 'building'; job: string; since: Date };

export interface RegistryOptions {
  /** A finished image older than this is not reused (it is about to be deleted). */
  retentionMs: number;
  /**
   * A build whose builder has not said it is alive (`heartbeat`) for this long is taken to have died
   * with its builder, however young the build: an identical request then builds it itself.
   */
  staleMs: number;
  /** Whether the image file of a finished build is still there. */
  imageExists: (image: BuiltImage) => Promise<boolean>;
}

export class BuildRegistry {
  private readonly model: Model<BuildDoc>;
  private readonly lock: DocLock;

  constructor(conn: Connection, private readonly opts: RegistryOptions) {
    this.model = (conn.models.Build as Model<BuildDoc> | undefined) ?? conn.model<BuildDoc>('Build', buildSchema);
    this.lock = new DocLock(conn, 'build_locks', { leaseMs: 15_000, waitMs: 20_000 });
  }

  async init(): Promise<void> {
    await this.model.createCollection().catch(() => {});
    await this.lock.init();
  }

  /** What a finished, still usable build of this hash made, if any; claims nothing. */
  async lookup(hash: string, now = Date.now()): Promise<BuiltImage | undefined> {
    const doc = await this.model.findById(hash).lean<BuildDoc>();
    return doc && (await this.usable(doc, now)) ? doc.image : undefined;
  }

  /**
   * Takes the build of this hash for `job`, or says who has it, or what it made. `owner` names the
   * claimant within the job: a message delivered twice (its first consumer's connection lost, its
   * publisher's confirm lost) may be in the hands of two image-creators at once, and the second must
   * wait for the first's build, not start its own. By default the job is its own owner: any claimant
   * of the same job takes the claim over.
   * `rebuild`: a fresh build was asked for; a finished build is not an answer (unless it is this job's
   * own, finished by another delivery of it), but one running now is waited for all the same.
   */
  claim(hash: string, job: string, now = Date.now(), owner = job, opts: { rebuild?: boolean } = {}): Promise<Claim> {
    return this.lock.with(hash, async () => {
      const doc = await this.model.findById(hash).lean<BuildDoc>();
      const answers = !opts.rebuild || doc?.image?.job === job;
      if (answers && doc?.state === 'done' && doc.image && (await this.usable(doc, now))) return { kind: 'done', image: doc.image };
      const mine = doc?.job === job && (doc.owner ?? doc.job) === owner;
      if (doc?.state === 'building' && !mine && now - (doc.beat ?? doc.started).getTime() < this.opts.staleMs) {
        return { kind: 'building', job: doc.job, since: doc.started };
      }
      await this.model.replaceOne({ _id: hash }, { _id: hash, state: 'building', job, owner, started: new Date(now) }, { upsert: true });
      return { kind: 'claimed' };
    });
  }

  /** Whether a live claim builds `job` now (for any request hash, by any delivery of the job). */
  async buildingFor(job: string, now = Date.now()): Promise<boolean> {
    const docs = await this.model.find({ job, state: 'building' }).lean<BuildDoc[]>();
    return docs.some((d) => now - (d.beat ?? d.started).getTime() < this.opts.staleMs);
  }

  /** The claim's builder is alive and building; call it well within `staleMs`. */
  heartbeat(hash: string, job: string, now = Date.now()): Promise<void> {
    return this.model.updateOne({ _id: hash, job, state: 'building' }, { $set: { beat: new Date(now) } }).then(() => {});
  }

  /** The claimed build finished: later identical requests are answered from its image. */
  complete(hash: string, image: BuiltImage): Promise<void> {
    return this.lock.with(hash, async () => {
      await this.model.updateOne({ _id: hash, job: image.job }, { $set: { state: 'done', finished: new Date(), image } });
    });
  }

  /** The claimed build failed or was cancelled: nothing is kept, a waiting request builds itself. */
  release(hash: string, job: string): Promise<void> {
    return this.lock.with(hash, async () => {
      await this.model.deleteOne({ _id: hash, job, state: 'building' });
    });
  }

  private async usable(doc: BuildDoc, now: number): Promise<boolean> {
    if (doc.state !== 'done' || !doc.image || !doc.finished) return false;
    if (now - doc.finished.getTime() > this.opts.retentionMs) return false;
    return this.opts.imageExists(doc.image);
  }
}

export { delivery, imageExists, imageKeyOf, reuseImage } from './reuse.ts';
