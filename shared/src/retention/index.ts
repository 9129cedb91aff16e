// Finished images are kept for a number of days (the success email says how many), then deleted.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/index.ts';
import { DataLayout, RESULT_FILE } from '../layout/index.ts';

/** Deletes `images/<id>/` folders whose image was finished more than `days` ago; returns the ids. */
export async function sweepExpiredImages(opts: { dataDir: string; days: number; log: Logger; now?: number }): Promise<string[]> {
  const root = new DataLayout(opts.dataDir).root('images');
  const cutoff = (opts.now ?? Date.now()) - opts.days * 86_400_000;
  const removed: string[] = [];
  let ids: string[];
  try {
    ids = await readdir(root);
  } catch {
    return removed;
  }
  for (const id of ids) {
    if (!/^[0-9a-f]{32}$/.test(id)) continue;
    // The result file is written when the image is complete; a folder without it is a build in progress.
    const finished = await stat(join(root, id, RESULT_FILE)).then((s) => s.mtimeMs, () => undefined);
    if (finished === undefined || finished > cutoff) continue;
    await rm(join(root, id), { recursive: true, force: true });
    removed.push(id);
  }
  if (removed.length > 0) opts.log.info({ count: removed.length, days: opts.days }, 'deleted expired images');
  return removed;
}
