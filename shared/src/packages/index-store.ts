// Where the package index is kept: one document per unit (suite/component/architecture) in the
// collection `package_indexes`, with the time apt read its list. image-creator writes it (it has Docker
// and the builder image); the frontend only reads it, and marks the units a submission needed but found
// missing as wanted, so the next refresh reads them. Several image-creators share the collection: a
// refresh holds a DocLock per architecture, so they do not all read the same lists at once.
import mongoose, { type Connection, type Model } from 'mongoose';
import { decodeUnit, encodeUnit, type UnitPackages } from './index-format.ts';
import { parseUnitKey, unitKey, type IndexUnit } from './units.ts';

interface IndexDoc {
  _id: string;
  suite: string;
  component: string;
  architecture: string;
  /** When apt read the list this document holds; absent: never read yet. */
  read_at?: Date;
  /** When a submission last needed this unit. */
  wanted_at?: Date;
  packages?: number;
  data?: Buffer;
  /** Why the last reading failed, and when. */
  error?: string;
  error_at?: Date;
}

const indexSchema = new mongoose.Schema<IndexDoc>({
  _id: { type: String, required: true },
  suite: { type: String, required: true },
  component: { type: String, required: true },
  architecture: { type: String, required: true },
  read_at: Date,
  wanted_at: Date,
  packages: Number,
  data: Buffer,
  error: { type: String, maxlength: 2000 },
  error_at: Date,
}, { collection: 'package_indexes', versionKey: false });

export interface StoredUnit {
  unit: IndexUnit;
  readAt: Date;
  packages: UnitPackages;
}

export class PackageIndexStore {
  private readonly model: Model<IndexDoc>;

  constructor(conn: Connection) {
    this.model = (conn.models.PackageIndex as Model<IndexDoc> | undefined) ?? conn.model<IndexDoc>('PackageIndex', indexSchema);
  }

  async init(): Promise<void> {
    await this.model.createCollection().catch(() => {});
  }

  /** When each of these units was read, for those read at all (a cheap query: no lists). */
  async readTimes(units: readonly IndexUnit[]): Promise<Map<string, Date>> {
    const docs = await this.model.find({ _id: { $in: units.map(unitKey) }, read_at: { $exists: true } }, { read_at: 1 }).lean<Pick<IndexDoc, '_id' | 'read_at'>[]>();
    return new Map(docs.filter((d) => d.read_at).map((d) => [d._id, d.read_at as Date]));
  }

  async load(unit: IndexUnit): Promise<StoredUnit | undefined> {
    const doc = await this.model.findById(unitKey(unit)).lean<IndexDoc>();
    if (!doc?.data || !doc.read_at) return undefined;
    const data = Buffer.isBuffer(doc.data) ? doc.data : Buffer.from((doc.data as unknown as { buffer: ArrayBuffer }).buffer);
    return { unit, readAt: doc.read_at, packages: decodeUnit(data) };
  }

  async save(unit: IndexUnit, packages: UnitPackages, readAt: Date): Promise<void> {
    const data = encodeUnit(packages);
    await this.model.updateOne(
      { _id: unitKey(unit) },
      { $set: { ...unit, read_at: readAt, packages: packages.size, data }, $unset: { error: 1, error_at: 1 } },
      { upsert: true },
    );
  }

  async failed(unit: IndexUnit, message: string): Promise<void> {
    await this.model.updateOne({ _id: unitKey(unit) }, { $set: { ...unit, error: message.slice(0, 2000), error_at: new Date() } }, { upsert: true });
  }

  /** A submission needed these units and found them missing: the next refresh reads them. */
  async want(units: readonly IndexUnit[], at = new Date()): Promise<void> {
    for (const u of units) {
      await this.model.updateOne({ _id: unitKey(u) }, { $set: { ...u, wanted_at: at } }, { upsert: true });
    }
  }

  /**
   * Units to read now: every unit read before (or wanted) whose list is older than `maxAgeMs` or was
   * never read. A unit whose reading failed is tried again after `retryMs`, not on every round.
   */
  async due(maxAgeMs: number, retryMs: number, now = new Date()): Promise<IndexUnit[]> {
    const stale = new Date(now.getTime() - maxAgeMs);
    const retry = new Date(now.getTime() - retryMs);
    const docs = await this.model.find({}, { suite: 1, component: 1, architecture: 1, read_at: 1, error_at: 1 }).lean<IndexDoc[]>();
    return docs
      .filter((d) => (!d.read_at || d.read_at < stale) && (!d.error_at || d.error_at < retry))
      .map((d) => parseUnitKey(d._id))
      .filter((u): u is IndexUnit => u !== undefined);
  }

  /** For the operator and the tests: what is kept, without the lists. */
  async list(): Promise<{ unit: IndexUnit; readAt?: Date; packages?: number; error?: string }[]> {
    const docs = await this.model.find({}, { data: 0 }).lean<IndexDoc[]>();
    return docs.map((d) => ({
      unit: { suite: d.suite, component: d.component, architecture: d.architecture },
      ...(d.read_at ? { readAt: d.read_at } : {}), ...(d.packages !== undefined ? { packages: d.packages } : {}), ...(d.error ? { error: d.error } : {}),
    }));
  }
}
