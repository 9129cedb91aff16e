// What a finished job says about itself, read from the store: its manifest (written by
// image-creator), and made from it here, the same way every time: the SBOM and the SHA256SUMS that
// covers the image as downloaded, the manifest and the SBOM.
import { createHash } from 'node:crypto';
import type { Job } from '@img/shared/jobs';
import { imageKey } from '@img/shared/layout';
import { decompressedName, MANIFEST_FILE, manifestSchema, SBOM_FILE, sbomText, sha256sums, type Manifest } from '@img/shared/provenance';
import type { Storage } from '@img/shared/storage';

/** Largest manifest read from the store (a few thousand packages take a few hundred KiB). */
const MAX_MANIFEST_BYTES = 16 * 1048576;

export interface JobProvenance {
  manifest: Manifest;
  /** The manifest's bytes as stored and served. */
  manifestText: string;
  sbom: string;
  sums: string;
}

export type ProvenanceAnswer = { ok: true; value: JobProvenance } | { ok: false; why: string };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The job's provenance, or why it has none (in words for a 404). */
export async function jobProvenance(storage: Storage, publicUrl: string, job: Job): Promise<ProvenanceAnswer> {
  if (job.status !== 'done') {
    const why = job.status === 'failed' ? 'the build failed' : job.status === 'cancelled' ? 'the job was cancelled' : `the job is ${job.status}; it has one when its image is built`;
    return { ok: false, why: `this job has no package manifest: ${why}` };
  }
  const buf = await storage.getBuffer(imageKey(job.id, MANIFEST_FILE)!, MAX_MANIFEST_BYTES);
  if (!buf || !job.imagefile || !job.sha256) {
    const image = job.imagefile ? await storage.stat(imageKey(job.id, job.imagefile) ?? '') .catch(() => undefined) : undefined;
    return { ok: false, why: image ? 'this job has no package manifest: it was built before IMG kept package manifests' : 'this job has no package manifest: its files are gone' };
  }
  const manifestText = buf.toString('utf8');
  const manifest = manifestSchema.parse(JSON.parse(manifestText));
  const sbom = sbomText(manifest, { filename: job.imagefile, sha256: job.sha256, url: `${publicUrl}/images/${job.id}/${SBOM_FILE}` });
  const sums = sha256sums([
    { name: job.imagefile, sha256: job.sha256 },
    { name: MANIFEST_FILE, sha256: sha256(manifestText) },
    { name: SBOM_FILE, sha256: sha256(sbom) },
  ], job.compression === 'zstd' && job.disk_sha256 ? { name: decompressedName(job.imagefile), sha256: job.disk_sha256 } : undefined);
  return { ok: true, value: { manifest, manifestText, sbom, sums } };
}
