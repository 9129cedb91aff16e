// Where a job's files live, and the URLs that point at them: the one description every service uses.
//
// Every location is first a key ("images/<id>/image.raw"). Keys under images/ and logs/ name objects
// in the store (shared/src/storage: a local directory, or an object store shared by build hosts);
// keys under work/ and cache/ are one build host's own, resolved to paths under its data directory.
import { basename, join } from 'node:path';
import { jobIdSchema } from '../contracts/index.ts';

/** The name a job's result has inside its image folder. */
export const RESULT_FILE = 'result.json';

/** The keys of one job's files. `id` must already be a valid job id (see `DataLayout.job`). */
export const jobKeys = (id: string) => ({
  /** The build's log, appended to while it runs; the `logfile` of result_queue messages. */
  log: `logs/${id}.log`,
  /** Written after a failure was reported: a redelivery reports the same failure, it does not build again. */
  failure: `logs/${id}.failed.json`,
  /** The finished image and its result; only the host writes here. */
  imageDir: `images/${id}`,
  /** Written last, after the image is complete: a redelivered message is answered from it, and retention counts from it. */
  result: `images/${id}/${RESULT_FILE}`,
  /** The build's scratch space on the host, removed when the build ends. */
  work: `work/${id}`,
  /** The build's log on the building host while it runs; stored as `log` when the build ends. */
  spool: `work/${id}.log`,
  /** Where the building host takes the image out of the sandbox to, before it is stored. */
  output: `work/${id}.out`,
});

/** The store's key of a job's image (or of another file beside it); undefined unless `filename` is a plain file name. */
export function imageKey(id: string, filename: string): string | undefined {
  if (!filename || basename(filename) !== filename || filename === '.' || filename === '..' || filename.includes('\0') || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(filename)) return undefined;
  return `${jobKeys(jobIdSchema.parse(id)).imageDir}/${filename}`;
}

/** Every object of a job's image folder: the image, its result and whatever sits beside them. */
export const imagePrefix = (id: string) => `${jobKeys(jobIdSchema.parse(id)).imageDir}/`;

/** The top-level folders: one per kind of file, so each has one owner and one sweep. */
export const dataRoots = { images: 'images', logs: 'logs', work: 'work', cache: 'cache' } as const;

export type JobFiles = ReturnType<typeof jobKeys>;

/** Keys resolved to paths under a local data directory (one shared folder, or one host's own). */
export class DataLayout {
  constructor(readonly dataDir: string) {}

  /** A job's files; throws on anything that is not a job id, so no path is built from one. */
  job(id: string): JobFiles {
    const keys = jobKeys(jobIdSchema.parse(id));
    return Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, this.path(v)])) as JobFiles;
  }

  /** The image file of a job; undefined when the name is not a plain file name. */
  image(id: string, filename: string): string | undefined {
    if (!filename || basename(filename) !== filename || filename === '.' || filename === '..' || filename.includes('\0')) return undefined;
    return join(this.job(id).imageDir, filename);
  }

  root(name: keyof typeof dataRoots): string {
    return this.path(dataRoots[name]);
  }

  path(key: string): string {
    return join(this.dataDir, key);
  }
}

/** The public URLs of a job, as the frontend serves them. Links handed to the owner add its token. */
export class JobUrls {
  constructor(readonly publicUrl: string) {}
  page(id: string): string { return `${this.publicUrl}/job/${id}`; }
  log(id: string): string { return `${this.publicUrl}/job/${id}/log`; }
  image(id: string): string { return `${this.publicUrl}/images/${id}`; }
  api(id: string): string { return `${this.publicUrl}/api/v1/jobs/${id}`; }
}
