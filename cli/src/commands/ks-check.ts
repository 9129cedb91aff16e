// `img ks-check`: the project's one kickstart parser, run on files, errors as FILE:LINE: message and
// warnings as warning: FILE:LINE: message. With --server, the server reads each file instead and also
// checks every package, exclusion and @Group against the real package index of the suite and
// architecture the kickstart builds from, as a submission is checked.
import { readFileSync } from 'node:fs';
import { commandArgs } from '../args.ts';
import { describeError, ImgClient, serverUrl, type KickstartCheckAnswer } from '../client.ts';
import { findArchitecture, formatKsErrors, loadDefaultTemplate, parseKickstart, unknownArchitectureMessage, type KsError } from '@img/shared/kickstart';

const USAGE = `usage: img ks-check [--server URL] [--suite NAME] [--arch ARCH] FILE...
  Reads each kickstart as IMG does. Exit 0: every file can be built (warnings name the lines IMG
  accepts but does not act on); 1: a file has errors (each names its line); 2: a file or the server
  could not be read.
  --server URL   the server reads the files and checks their packages against its package index
  --suite NAME   the Debian suite of a kickstart whose repo lines name none
  --arch ARCH    the architecture it is built for: amd64 (default) or arm64
`;

function print(file: string, errors: Array<Pick<KsError, 'line' | 'message'>>, warnings: Array<Pick<KsError, 'line' | 'message'>>): boolean {
  const lines = (list: Array<Pick<KsError, 'line' | 'message'>>) => formatKsErrors(file, list.map((e) => ({ ...e, text: '' })));
  lines(warnings).forEach((l) => process.stderr.write(`warning: ${l}\n`));
  lines(errors).forEach((l) => process.stderr.write(`${l}\n`));
  return errors.length === 0;
}

function describeCheck(p: KickstartCheckAnswer['package_check']): string {
  if (p.state === 'checked') return `packages checked against ${p.against} (package lists read ${p.read_at})`;
  if (p.state === 'skipped') return `packages not checked: ${p.reason}`;
  return `packages not checked yet: the server has not read the package lists of ${p.against}; the build will check them`;
}

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('ks-check', USAGE, args, {
    help: { type: 'boolean', short: 'h' }, server: { type: 'string' }, suite: { type: 'string' }, arch: { type: 'string' },
  }, { min: 1, max: Infinity });
  if (typeof parsed === 'number') return parsed;
  const { positionals, values } = parsed;
  if (values.arch !== undefined && !findArchitecture(values.arch)) {
    process.stderr.write(`img ks-check: --arch: ${unknownArchitectureMessage(values.arch)}\n`);
    return 2;
  }
  const remote = values.server !== undefined;
  const client = remote ? new ImgClient(serverUrl(values.server)) : undefined;
  const groups = remote ? undefined : loadDefaultTemplate().template?.groups;
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
    if (client) {
      let answer: KickstartCheckAnswer;
      try {
        answer = await client.checkKickstart(text, values.suite, values.arch);
      } catch (err) {
        process.stderr.write(`img ks-check: ${file}: ${describeError(err)}\n`);
        status = 2;
        continue;
      }
      const ok = print(file, answer.errors, answer.warnings);
      process.stdout.write(`${file}: ${ok ? 'ok' : 'errors'}; Debian ${answer.suite} for ${answer.architecture}; ${describeCheck(answer.package_check)}\n`);
      if (!ok) status = Math.max(status, 1);
      continue;
    }
    const result = parseKickstart(text, { file, ...(groups ? { groups } : {}), ...(values.suite ? { defaultSuite: values.suite } : {}), ...(values.arch ? { arch: values.arch } : {}) });
    if (print(file, result.errors, result.warnings)) process.stdout.write(`${file}: ok (packages not checked: pass --server to check them against a server's package index)\n`);
    else status = Math.max(status, 1);
  }
  return status;
}
