// What a build leaves for the other services, wherever it ran: the log (live on the broker while it
// runs, whole in the store at the end), the image, and the result or failure report that answers a
// redelivered message. Build hosts share nothing else, so this is the only place a build's files
// leave the host, and every one goes through the Storage interface under a layout key.
import { mkdir, readFile, rm } from 'node:fs/promises';
import type { Broker } from '@img/shared/broker';
import { errorMessage, linkMessage, type ErrorMessage, type LinkMessage } from '@img/shared/contracts';
import { DataLayout, imageKey, jobKeys, type JobFiles } from '@img/shared/layout';
import { LiveLogWriter } from '@img/shared/live-log';
import type { Logger } from '@img/shared/logging';
import type { Storage } from '@img/shared/storage';
import { MANIFEST_FILE, ManifestError, manifestSchema, parsePackagesTsv, type Manifest } from '@img/shared/provenance';
import { BuildFailure } from './failure.ts';
import { JobLog } from './job-log.ts';

export interface JobOutputDeps {
  storage: Storage;
  broker: Pick<Broker, 'openChannel'>;
  log: Logger;
  dataDir: string;
  maxLogMb: number;
}

/** Largest result or failure report read back. */
const MAX_REPORT_BYTES = 1 << 20;

/** What an earlier delivery of the job left in the store: its result, or its failure. */
export async function earlierOutcome(storage: Storage, id: string): Promise<{ link?: LinkMessage; failure?: ErrorMessage }> {
  const keys = jobKeys(id);
  const read = async (key: string) => {
    const buf = await storage.getBuffer(key, MAX_REPORT_BYTES);
    if (!buf) return undefined;
    try {
      return JSON.parse(buf.toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  };
  const link = linkMessage.safeParse(await read(keys.result));
  if (link.success) return { link: link.data };
  const failure = errorMessage.safeParse(await read(keys.failure));
  return failure.success ? { failure: failure.data } : {};
}

export class JobOutput {
  private stored = false;

  private constructor(private readonly deps: JobOutputDeps, readonly id: string, readonly paths: JobFiles, readonly jobLog: JobLog, private readonly live: LiveLogWriter) {}

  /** Opens the job's spool log and live log; a later attempt goes on from what the earlier ones wrote. */
  static async open(deps: JobOutputDeps, id: string, attempt: number): Promise<JobOutput> {
    const layout = new DataLayout(deps.dataDir);
    const paths = layout.job(id);
    await mkdir(layout.root('work'), { recursive: true });
    const live = new LiveLogWriter(deps.broker, id, deps.log);
    const earlier = await live.open(attempt);
    const jobLog = new JobLog(paths.spool, false, deps.maxLogMb, (text) => live.write(text));
    jobLog.seed(earlier);
    return new JobOutput(deps, id, paths, jobLog, live);
  }

  /** Takes the image file (written by the host, boot-checked) into the store as the job's `filename`. */
  async storeImage(path: string, filename: string): Promise<void> {
    const key = imageKey(this.id, filename);
    if (!key) throw new Error(`not a plain file name: ${JSON.stringify(filename)}`);
    await this.deps.storage.putFile(key, path);
  }

  /**
   * Reads the build's package list (a host file the build's output was taken into, bounded when it
   * was taken) and stores it as the job's manifest; a list that is not one fails the build.
   */
  async storeManifest(tsvPath: string, meta: Pick<Manifest, 'suite' | 'arch'>): Promise<Manifest> {
    let packages;
    try {
      packages = parsePackagesTsv(await readFile(tsvPath, 'utf8'));
    } catch (err) {
      if (err instanceof ManifestError) throw new BuildFailure('build_output_invalid', `the build's package manifest (/out/packages.tsv) is not readable: ${err.message}`, { phase: 'assembling' });
      throw err;
    }
    const manifest = manifestSchema.parse({ format: 'img-manifest/1', job: this.id, ...meta, created: new Date().toISOString(), packages });
    const key = imageKey(this.id, MANIFEST_FILE)!;
    await this.deps.storage.put(key, `${JSON.stringify(manifest)}\n`, { contentType: 'application/json' });
    return manifest;
  }

  /**
   * The log is complete: it goes into the store whole, then the live log says so. Call it before
   * the outcome is published, so whoever learns of the outcome finds the whole log.
   */
  async storeLog(): Promise<void> {
    if (this.stored) return;
    await this.jobLog.close();
    await this.live.flush();
    await this.deps.storage.putFile(jobKeys(this.id).log, this.paths.spool);
    this.stored = true;
    await this.live.end();
  }

  async writeResult(link: LinkMessage): Promise<void> {
    await this.deps.storage.put(jobKeys(this.id).result, JSON.stringify(linkMessage.parse(link)), { contentType: 'application/json' });
  }

  async writeFailure(report: ErrorMessage): Promise<void> {
    await this.deps.storage.put(jobKeys(this.id).failure, JSON.stringify(report), { contentType: 'application/json' });
  }

  /**
   * The delivery is over. With its outcome reported (`ended`), the live log's stream is deleted;
   * handed back for another attempt, it stays for that attempt to go on from. The host's scratch
   * files go either way.
   */
  async close(ended: boolean): Promise<void> {
    await this.jobLog.close();
    if (ended && this.stored) await this.live.remove();
    else await this.live.close();
    await Promise.all([this.paths.work, this.paths.output, this.paths.spool].map((p) => rm(p, { recursive: true, force: true }).catch(() => {})));
  }
}
