// `img cancel ID`: cancels a job that has not finished; the build stops and the person is told.
import { parseArgs } from 'node:util';
import { commonOptions, describeError, ImgClient, serverUrl } from '../client.ts';

const USAGE = 'usage: img cancel ID [--server URL]\n';

export async function run(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: commonOptions(), strict: true, allowPositionals: true }));
  } catch (e) {
    process.stderr.write(`img cancel: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    const job = await new ImgClient(serverUrl(values.server)).cancel(positionals[0]!);
    process.stdout.write(`${job.id} ${job.status}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`img cancel: ${describeError(err)}\n`);
    return 1;
  }
}
