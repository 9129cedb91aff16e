// `img status ID`: a job's state, its queue position or its result.
import { parseArgs } from 'node:util';
import { commonOptions, describeError, ImgClient, serverUrl, stateLine } from '../client.ts';

const USAGE = 'usage: img status ID [--json] [--server URL]\n';

export async function run(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { ...commonOptions(), json: { type: 'boolean' } }, strict: true, allowPositionals: true }));
  } catch (e) {
    process.stderr.write(`img status: ${(e as Error).message}\n${USAGE}`);
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
    const job = await new ImgClient(serverUrl(values.server)).job(positionals[0]!);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `job      ${job.id}`,
      `status   ${stateLine(job)}`,
      `type     ${job.type}`,
      `created  ${job.created}`,
      ...(job.duration_s !== undefined ? [`build    ${job.duration_s} s`] : []),
      ...(job.status === 'done' ? [`image    ${job.links.image ?? ''}`, `size     ${job.size ?? ''} bytes`, `sha256   ${job.sha256 ?? ''}`] : []),
      ...(job.error ? [`error    ${job.error_code ? `(${job.error_code}) ` : ''}${job.error}`] : []),
      ...(job.email_status ? [`email    ${job.email_status.state}${job.email_status.error ? `: ${job.email_status.error}` : ''}`] : []),
      `page     ${job.links.page ?? ''}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`img status: ${describeError(err)}\n`);
    return 1;
  }
}
