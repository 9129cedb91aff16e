// `img submit`: sends a kickstart, or a platform (of the server's template or your own) with an
// overlay; with --wait, follows the job and exits 0 when the image is built, 1 when it is not.
// The job's token, in the answer, is kept for this user (token-store.ts) for the other subcommands.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { commandArgs } from '../args.ts';
import { ApiError, commonOptions, describeError, finishedStatuses, ImgClient, serverUrl, shownLink, stateLine, estimateLines, type ApiJob } from '../client.ts';
import { TokenStore } from '../token-store.ts';

const USAGE = `usage: img submit (--ks FILE | [--config FILE] --platform NAME [--overlay TEXT]) --type TYPE --email ADDR [--suite SUITE] [--arch ARCH] [--callback-url URL] [--rebuild] [--wait] [--server URL]
  --ks FILE         a kickstart file
  --config FILE     a YAML template (default: the server's own)
  --platform NAME   a platform of the template
  --overlay TEXT    packages to add, @groups, -packages to leave out, comma-separated
  --type TYPE       the image type, such as tar (the server lists them at /api/v1/image-types)
  --suite SUITE     the Debian suite (trixie, bookworm, forky, sid) when the kickstart's repo lines name none,
                    or for the platform; default: the kickstart's or platform's, else the server's default
  --arch ARCH       the architecture: amd64 (default) or arm64 (built under emulation, several times slower);
                    default for a platform: its own
  --email ADDR      where the link or the error is mailed
  --callback-url URL  where the outcome is posted too, signed (the secret is printed once, to stderr)
  --rebuild         build again even if an identical request was built already (not answered from its image)
  --wait            follow the build; exit 0 when the image is built, 1 when it failed or was cancelled
  --server URL      the IMG server (default: $IMG_SERVER, else http://localhost:8080)
The job's token is kept in $XDG_STATE_HOME/img/tokens.json (else ~/.local/state/img/tokens.json),
readable by you only, so img status, log, download and cancel work on the job from this account.
`;

const POLL_MS = 2000;

async function wait(client: ImgClient, job: ApiJob, interval: number): Promise<number> {
  let last = '';
  for (;;) {
    const line = stateLine(job);
    if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
    last = line;
    if (finishedStatuses.includes(job.status)) break;
    await new Promise((r) => setTimeout(r, interval));
    try {
      job = await client.job(job.id);
    } catch (err) {
      // A restart of the server is not the end of the build: keep asking.
      if (err instanceof ApiError && (err.status === 0 || err.status >= 500)) {
        process.stderr.write(`img submit: ${describeError(err)}; trying again\n`);
        continue;
      }
      throw err;
    }
  }
  // What was estimated beside what happened, on stderr with the progress lines.
  const est = estimateLines(job);
  if (est.length) process.stderr.write(`${est.join('\n')}\n`);
  if (job.status === 'done') {
    process.stdout.write(`done: ${shownLink(job.links.image)}\nsha256 ${job.sha256 ?? ''}  ${job.imagefile ?? ''}\n`);
    return 0;
  }
  process.stderr.write(`${job.status}${job.error_code && job.status === 'failed' ? ` (${job.error_code})` : ''}: ${job.error ?? 'no reason given'}\n`);
  if (job.error_excerpt?.length) process.stderr.write(`${job.error_excerpt.map((l) => `  | ${l}`).join('\n')}\n`);
  process.stderr.write(`log: ${shownLink(job.links.page)}\n`);
  return 1;
}

export async function run(args: string[]): Promise<number> {
  const parsed = commandArgs('submit', USAGE, args, {
    ...commonOptions(),
    ks: { type: 'string' }, config: { type: 'string' }, platform: { type: 'string' }, overlay: { type: 'string' }, suite: { type: 'string' }, arch: { type: 'string' },
    type: { type: 'string' }, email: { type: 'string' }, wait: { type: 'boolean' }, interval: { type: 'string' }, 'callback-url': { type: 'string' },
    rebuild: { type: 'boolean' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const problems: string[] = [];
  if (!values.type) problems.push('--type is required');
  if (!values.email) problems.push('--email is required');
  if (values.ks && (values.config || values.platform || values.overlay)) problems.push('--ks goes alone; --config, --platform and --overlay are for a template build');
  if (!values.ks && !values.platform) problems.push('give --ks FILE, or --platform NAME (with --config FILE for your own template)');
  if (problems.length > 0) {
    process.stderr.write(`img submit: ${problems.join('; ')}\n${USAGE}`);
    return 2;
  }
  const form = new FormData();
  form.set('email', values.email!);
  form.set('imagetype', values.type!);
  try {
    if (values.ks) form.set('ksfile', new Blob([await readFile(values.ks)], { type: 'text/plain' }), basename(values.ks));
    if (values.config) form.set('template', new Blob([await readFile(values.config)], { type: 'text/plain' }), basename(values.config));
  } catch (e) {
    process.stderr.write(`img submit: cannot read ${values.ks ?? values.config}: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.platform) form.set('platform', values.platform);
  if (values.overlay) form.set('overlay', values.overlay);
  // The server checks it and answers a 400 listing the suites it builds.
  if (values.suite) form.set('suite', values.suite);
  if (values.arch) form.set('arch', values.arch);
  if (values['callback-url']) form.set('callback_url', values['callback-url']);
  if (values.rebuild) form.set('rebuild', 'true');

  const client = new ImgClient(serverUrl(values.server));
  try {
    const job = await client.submit(form);
    process.stdout.write(`${job.id}\n`);
    process.stderr.write(`queued: ${shownLink(job.links.page)}\n`);
    if (job.webhook_secret) process.stderr.write(`webhook secret (verifies the posts to your callback; shown once): ${job.webhook_secret}\n`);
    if (job.token) {
      const store = new TokenStore();
      try {
        await store.put(client.server, job.id, job.token);
      } catch (err) {
        process.stderr.write(`img submit: could not keep the job's token in ${store.file}: ${(err as Error).message}; the links in the job's email carry it\n`);
      }
      client.authorization = `Bearer ${job.token}`;
    }
    if (!values.wait) return 0;
    const interval = Math.max(200, Number(values.interval ?? POLL_MS) || POLL_MS);
    return await wait(client, job, interval);
  } catch (err) {
    process.stderr.write(`img submit: ${describeError(err)}\n`);
    return 1;
  }
}
