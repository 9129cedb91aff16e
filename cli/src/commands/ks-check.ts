// `img ks-check`: the project's one kickstart parser, run on files, errors as FILE:LINE: message.
import { readFileSync } from 'node:fs';
import { commandArgs } from '../args.ts';
import { formatKsErrors, parseKickstart } from '@img/shared/kickstart';

const USAGE = 'usage: img ks-check FILE...\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('ks-check', USAGE, args, { help: { type: 'boolean', short: 'h' } }, { min: 1, max: Infinity });
  if (typeof parsed === 'number') return parsed;
  const { positionals } = parsed;
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
