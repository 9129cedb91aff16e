// `img cancel ID`: cancels a job that has not finished; the build stops and the person is told.
import { commandArgs } from '../args.ts';
import { commonOptions, ImgClient, serverUrl } from '../client.ts';
import { credentialFor, describeJobError, TOKEN_USAGE, tokenOption } from '../job-auth.ts';

const USAGE = `usage: img cancel ID [--token TOKEN] [--server URL]\n${TOKEN_USAGE}`;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('cancel', USAGE, args, { ...commonOptions(), ...tokenOption() }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  const server = serverUrl(values.server);
  const cred = await credentialFor(server, id, values.token, { warn: (l) => process.stderr.write(`img cancel: ${l}\n`) });
  try {
    const job = await new ImgClient(server, cred).cancel(id);
    process.stdout.write(`${job.id} ${job.status}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`img cancel: ${describeJobError(err, id, cred)}\n`);
    return 1;
  }
}
