// Finished images are kept for a number of days (the success email says how many), then deleted.
import type { Logger } from '../logging/index.ts';
import { imagePrefix, RESULT_FILE } from '../layout/index.ts';
import type { Storage } from '../storage/index.ts';

const RESULT_KEY = new RegExp(`^images/([0-9a-f]{32})/${RESULT_FILE.replace('.', '\\.')}$`);

/** Deletes the image folders whose image was finished more than `days` ago; returns the ids. */
export async function sweepExpiredImages(opts: { storage: Storage; days: number; log: Logger; now?: number }): Promise<string[]> {
  const cutoff = (opts.now ?? Date.now()) - opts.days * 86_400_000;
  const expired: string[] = [];
  // The result is written when the image is complete; a folder without it is a build in progress.
  for await (const o of opts.storage.list('images/')) {
    const id = RESULT_KEY.exec(o.key)?.[1];
    if (id && o.modified.getTime() <= cutoff) expired.push(id);
  }
  for (const id of expired) await opts.storage.deletePrefix(imagePrefix(id));
  if (expired.length > 0) opts.log.info({ count: expired.length, days: opts.days }, 'deleted expired images');
  return expired;
}
