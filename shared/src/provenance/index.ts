// What an image says about itself: its package manifest and the SBOM made from it, and the
// checksum list that covers them with the image.
export * from './manifest.ts';
export * from './sbom.ts';

/** The checksum list's name, and its detached signature's. */
export const SUMS_FILE = 'SHA256SUMS';
export const SUMS_SIGNATURE_FILE = 'SHA256SUMS.sign';

/** `sha256sum` format: two spaces between the checksum and the name, one line per file. */
export function sha256sums(files: Array<{ name: string; sha256: string }>, decompressed?: { name: string; sha256: string }): string {
  return files.map((f) => `${f.sha256}  ${f.name}\n`).join('') + (decompressed ? decompressedLines(decompressed, SUMS_FILE) : '');
}

/**
 * The image once decompressed, as comment lines: `sha256sum -c` skips lines that start with '#', so
 * the list still checks the files as downloaded, and `sed -n 's/^# //p' SHA256SUMS | sha256sum -c`
 * checks the decompressed image (the '## ' line is not picked up by that sed).
 */
export function decompressedLines(image: { name: string; sha256: string }, listName: string): string {
  return `## the image once decompressed (zstd -d), checked by: sed -n 's/^# //p' ${listName} | sha256sum -c\n# ${image.sha256}  ${image.name}\n`;
}

/** The decompressed image's name: the download's without `.zst`. */
export function decompressedName(filename: string): string {
  return filename.replace(/\.zst$/, '');
}
