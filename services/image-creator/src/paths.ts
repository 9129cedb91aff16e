// Where a job's files live under the data directory shared with the frontend. Only the host writes
// here: a build's output reaches it as data (sandbox-output.ts), never through a mount.
import { join } from 'node:path';

export function jobPaths(dataDir: string, id: string) {
  return {
    log: join(dataDir, 'logs', `${id}.log`),
    imageDir: join(dataDir, 'images', id),
    /** Written last, after the image is complete: a redelivered message is answered from it. */
    result: join(dataDir, 'images', id, 'result.json'),
    /** Written after a failure was reported: a redelivery reports the same failure, it does not build again. */
    failure: join(dataDir, 'logs', `${id}.failed.json`),
    work: join(dataDir, 'work', id),
  };
}
