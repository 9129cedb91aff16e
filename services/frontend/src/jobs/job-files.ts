// A job's files in the store (a local directory, or the object store build hosts share): its image,
// found by a key made from the validated job id and a plain file name (the name came over the broker),
// and its removal. The log is read through the live log reader (shared/src/live-log).
import { imageKey, imagePrefix, jobKeys } from '@img/shared/layout';
import type { Storage, StoredObject } from '@img/shared/storage';

/** The job's image in the store; undefined when the name is not a plain file name or nothing (or no regular file) is there. */
export async function imageObject(storage: Storage, id: string, imagefile: string | undefined): Promise<StoredObject | undefined> {
  const key = imagefile === undefined ? undefined : imageKey(id, imagefile);
  if (!key) return undefined;
  return storage.stat(key);
}

/** Removes the job's log, its failure report and its image folder, as IMG's delete() did. */
export async function removeJobFiles(storage: Storage, id: string): Promise<void> {
  const { log, failure } = jobKeys(id);
  await Promise.all([storage.delete(log), storage.delete(failure), storage.deletePrefix(imagePrefix(id))]);
}
