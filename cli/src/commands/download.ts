// `img download ID [-o FILE]`: streams the image to a file and checks its SHA-256.
import { commandArgs } from '../args.ts';
import { basename } from 'node:path';
import { commonOptions, describeError, ImgClient, serverUrl } from '../client.ts';

const USAGE = 'usage: img download ID [-o FILE] [--server URL]\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('download', USAGE, args, { ...commonOptions(), output: { type: 'string', short: 'o' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const tty = process.stderr.isTTY;
  let shown = -1;
  try {
    // The server's name is used only as a plain name in the current directory.
    const got = await new ImgClient(serverUrl(values.server)).download(positionals[0]!, (name) => values.output ?? basename(name), (bytes, total) => {
      const pct = total ? Math.floor((bytes / total) * 100) : -1;
      if (tty && pct !== shown) process.stderr.write(`\r${pct}% of ${total} bytes`);
      shown = pct;
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(`${got.path}\nsha256 ${got.sha256}  ${got.size} bytes, checksum verified\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${tty ? '\n' : ''}img download: ${describeError(err)}\n`);
    return 1;
  }
}
