// `img log ID [--follow]`: prints a job's build log; with --follow, keeps printing as it grows
// until the job has finished.
import { commandArgs } from '../args.ts';
import { ApiError, commonOptions, describeError, finishedStatuses, ImgClient, serverUrl } from '../client.ts';

const USAGE = 'usage: img log ID [--follow] [--server URL]\n';
const POLL_MS = 1000;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('log', USAGE, args, { ...commonOptions(), follow: { type: 'boolean', short: 'f' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const client = new ImgClient(serverUrl(values.server));
  const id = positionals[0]!;
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
    process.stderr.write(`img log: ${describeError(err)}\n`);
    return 1;
  }
}
