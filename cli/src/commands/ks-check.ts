// `img ks-check`: the project's one kickstart parser, run on files, errors as FILE:LINE: message.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatKsErrors, parseKickstart } from '@img/shared/kickstart';

const USAGE = 'usage: img ks-check FILE...\n';

export async function run(args: string[]): Promise<number> {
  let positionals: string[];
  let help: boolean | undefined;
  try {
    ({ positionals, values: { help } } = parseArgs({
      args, options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true,
    }));
  } catch (e) {
    process.stderr.write(`img ks-check: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  let status = 0;
  for (const file of positionals) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      process.stderr.write(`img ks-check: cannot read ${file}: ${(e as Error).message}\n`);
      status = 2;
      continue;
    }
    const result = parseKickstart(text, { file });
    formatKsErrors(file, result.warnings).forEach((l) => process.stderr.write(`warning: ${l}\n`));
    if (result.errors.length > 0) {
      formatKsErrors(file, result.errors).forEach((l) => process.stderr.write(`${l}\n`));
      status = Math.max(status, 1);
    } else {
      process.stdout.write(`${file}: ok\n`);
    }
  }
  return status;
}
