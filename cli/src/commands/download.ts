// `img download ID [-o FILE]`: streams the image to a file and checks its SHA-256.
import { commandArgs } from '../args.ts';
import { basename } from 'node:path';
import { commonOptions, ImgClient, serverUrl } from '../client.ts';
import { credentialFor, describeJobError, TOKEN_USAGE, tokenOption } from '../job-auth.ts';

const USAGE = `usage: img download ID [-o FILE] [--keep-compressed] [--token TOKEN] [--server URL]
  A raw, loop or ISO image is kept zstd-compressed by the server: it is decompressed as it downloads
  (with the zstd command) and both SHA-256 sums are checked; --keep-compressed saves the .zst as it is.
${TOKEN_USAGE}`;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('download', USAGE, args, { ...commonOptions(), ...tokenOption(), output: { type: 'string', short: 'o' }, 'keep-compressed': { type: 'boolean' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  const server = serverUrl(values.server);
  const cred = await credentialFor(server, id, values.token, { warn: (l) => process.stderr.write(`img download: ${l}\n`) });
  const tty = process.stderr.isTTY;
  let shown = -1;
  try {
    // The server's name is used only as a plain name in the current directory.
    const got = await new ImgClient(server, cred).download(id, (name) => values.output ?? basename(name), (bytes, total) => {
      const pct = total ? Math.floor((bytes / total) * 100) : -1;
      if (tty && pct !== shown) process.stderr.write(`\r${pct}% of ${total} bytes`);
      shown = pct;
    }, { keepCompressed: values['keep-compressed'] === true });
    if (tty) process.stderr.write('\n');
    if (got.decompressed) process.stdout.write(`${got.path}\nsha256 ${got.decompressed.sha256}  ${got.decompressed.size} bytes, decompressed from ${got.size} bytes (zstd, sha256 ${got.sha256}), both checksums verified\n`);
    else process.stdout.write(`${got.path}\nsha256 ${got.sha256}  ${got.size} bytes, checksum verified\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${tty ? '\n' : ''}img download: ${describeJobError(err, id, cred)}\n`);
    return 1;
  }
}
