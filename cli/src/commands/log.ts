// `img log ID [--follow]`: prints a job's build log; with --follow, keeps printing as it grows
// until the job has finished.
import { commandArgs } from '../args.ts';
import { ApiError, commonOptions, finishedStatuses, ImgClient, serverUrl } from '../client.ts';
import { credentialFor, describeJobError, TOKEN_USAGE, tokenOption } from '../job-auth.ts';

const USAGE = `usage: img log ID [--follow] [--token TOKEN] [--server URL]\n${TOKEN_USAGE}`;
const POLL_MS = 1000;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('log', USAGE, args, { ...commonOptions(), ...tokenOption(), follow: { type: 'boolean', short: 'f' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  const server = serverUrl(values.server);
  const cred = await credentialFor(server, id, values.token, { warn: (l) => process.stderr.write(`img log: ${l}\n`) });
  const client = new ImgClient(server, cred);
  let offset = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await client.log(id, offset);
      } catch (err) {
        if (values.follow && err instanceof ApiError && (err.status === 0 || err.status >= 500)) {
          await new Promise((r) => setTimeout(r, POLL_MS));
          continue;
        }
        throw err;
      }
      if (chunk.text) process.stdout.write(chunk.text);
      const moved = chunk.next > offset;
      offset = chunk.next;
      if (moved) continue;
      if (!values.follow || finishedStatuses.includes(chunk.status)) return 0;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    process.stderr.write(`img log: ${describeJobError(err, id, cred)}\n`);
    return 1;
  }
}
