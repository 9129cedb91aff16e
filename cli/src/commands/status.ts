// `img status ID`: a job's state, its queue position or its result. Without the job's token the
// server shows only the public view, and the command says so.
import { commandArgs } from '../args.ts';
import { commonOptions, estimateLines, ImgClient, serverUrl, shownJob, shownLink, stateLine } from '../client.ts';
import { credentialFor, describeJobError, noTokenMessage, TOKEN_USAGE, tokenOption } from '../job-auth.ts';

const USAGE = `usage: img status ID [--json] [--token TOKEN] [--server URL]\n${TOKEN_USAGE}`;

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('status', USAGE, args, { ...commonOptions(), ...tokenOption(), json: { type: 'boolean' } }, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  const server = serverUrl(values.server);
  const cred = await credentialFor(server, id, values.token, { warn: (l) => process.stderr.write(`img status: ${l}\n`) });
  try {
    const job = await new ImgClient(server, cred).job(id);
    if (cred.source === 'none' && !job.token) process.stderr.write(`img status: ${noTokenMessage(id)}; this is the public view\n`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(shownJob(job), null, 2)}\n`);
      return 0;
    }
    const lines = [
      `job      ${job.id}`,
      `status   ${stateLine(job)}`,
      `type     ${job.type}`,
      ...(job.suite ? [`suite    ${job.suite}`] : []),
      `arch     ${job.arch ?? 'amd64'}`,
      `created  ${job.created}`,
      ...(job.duration_s !== undefined ? [`build    ${job.duration_s} s`] : []),
      ...estimateLines(job),
      ...(job.status === 'done' && job.links.image ? [`image    ${shownLink(job.links.image)}`, `size     ${job.size ?? ''} bytes`, `sha256   ${job.sha256 ?? ''}`] : []),
      ...(job.error ? [`error    ${job.error_code ? `(${job.error_code}) ` : ''}${job.error}`] : []),
      ...(job.email_status ? [`email    ${job.email_status.state}${job.email_status.error ? `: ${job.email_status.error}` : ''}`] : []),
      `page     ${shownLink(job.links.page)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`img status: ${describeJobError(err, id, cred)}\n`);
    return 1;
  }
}
