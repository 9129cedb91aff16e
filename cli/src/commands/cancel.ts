// `img cancel ID`: cancels a job that has not finished; the build stops and the person is told.
import { commandArgs } from '../args.ts';
import { commonOptions, describeError, ImgClient, serverUrl } from '../client.ts';

const USAGE = 'usage: img cancel ID [--server URL]\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('cancel', USAGE, args, commonOptions(), { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  try {
    const job = await new ImgClient(serverUrl(values.server)).cancel(positionals[0]!);
    process.stdout.write(`${job.id} ${job.status}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`img cancel: ${describeError(err)}\n`);
    return 1;
  }
}
