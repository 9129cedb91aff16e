// What an image says about itself: its package manifest and the SBOM made from it, and the
// checksum list that covers them with the image.
export * from './manifest.ts';
export * from './sbom.ts';

/** The checksum list's name, and its detached signature's. */
export const SUMS_FILE = 'SHA256SUMS';
export const SUMS_SIGNATURE_FILE = 'SHA256SUMS.sign';

/** `sha256sum` format: two spaces between the checksum and the name, one line per file. */
export function sha256sums(files: Array<{ name: string; sha256: string }>): string {
  return files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
}
