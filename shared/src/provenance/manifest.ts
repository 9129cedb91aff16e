// The package manifest: every package installed in an image, read from dpkg inside the sandbox
// after %post (the builder's /out/packages.tsv) and kept beside the image as JSON. The TSV is the
// build's output, so it is hostile: read strictly, every field checked, the count bounded.
import { z } from 'zod';
import { jobIdSchema } from '../contracts/index.ts';

/** Most packages a manifest may list (a full desktop has a few thousand). */
export const MAX_MANIFEST_PACKAGES = 20_000;
/** Largest packages.tsv taken from a build. */
export const MAX_PACKAGES_TSV_BYTES = 4 * 1048576;
/** The manifest's name in the job's image folder, and the file the SHA256SUMS names. */
export const MANIFEST_FILE = 'manifest.json';

// Debian policy: package names are [a-z0-9][a-z0-9+.-]+; versions [epoch:]upstream[-revision] of
// alphanumerics and .+~-: ; architectures are lower-case words and digits (amd64, all, arm64).
const name = z.string().regex(/^[a-z0-9][a-z0-9+.-]{0,199}$/);
const ver = z.string().regex(/^[A-Za-z0-9.+~:-]{1,200}$/);
const arch = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/);

export const manifestPackage = z.object({ name, version: ver, architecture: arch, source: name, source_version: ver });
export type ManifestPackage = z.infer<typeof manifestPackage>;

export const manifestSchema = z.object({
  format: z.literal('img-manifest/1'),
  job: jobIdSchema,
  suite: z.string().max(64).optional(),
  arch: z.string().max(32).optional(),
  /** When the build finished: the SBOM's creation time, so it is the same document whenever it is made. */
  created: z.string().datetime(),
  packages: z.array(manifestPackage).max(MAX_MANIFEST_PACKAGES),
});
export type Manifest = z.infer<typeof manifestSchema>;

export class ManifestError extends Error {}

/**
 * Reads the builder's packages.tsv: one line per installed package, tab-separated name, version,
 * architecture, source package (the package itself when empty) and source version (the version
 * when empty). Throws ManifestError naming the first bad line.
 */
export function parsePackagesTsv(text: string): ManifestPackage[] {
  const out: ManifestPackage[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    if (out.length >= MAX_MANIFEST_PACKAGES) throw new ManifestError(`packages.tsv lists more than ${MAX_MANIFEST_PACKAGES} packages`);
    const f = line.split('\t');
    if (f.length !== 5) throw new ManifestError(`packages.tsv line ${i + 1} has ${f.length} fields, not 5`);
    const [n, v, a, s, sv] = f as [string, string, string, string, string];
    // dpkg's ${source:Package} may carry the source version in parentheses for an old status file.
    const r = manifestPackage.safeParse({ name: n, version: v, architecture: a, source: s || n, source_version: sv || v });
    if (!r.success) throw new ManifestError(`packages.tsv line ${i + 1} is not a package: ${JSON.stringify(line.slice(0, 200))}`);
    out.push(r.data);
  }
  return out.sort((x, y) => (x.name === y.name ? x.architecture.localeCompare(y.architecture) : x.name < y.name ? -1 : 1));
}
