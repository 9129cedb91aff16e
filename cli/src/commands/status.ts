// `img status ID`: a job's state, its queue position or its result.
import { commandArgs } from '../args.ts';
import { commonOptions, describeError, ImgClient, serverUrl, stateLine } from '../client.ts';

const USAGE = 'usage: img status ID [--json] [--server URL]\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('status', USAGE, args, { ...commonOptions(), json: { type: 'boolean' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
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
