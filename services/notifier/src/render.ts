// Emails from ejs templates: a text part and an HTML part, links built from the public base URL.
// Every link to the job carries its token (the same HMAC the frontend checks), so the person can
// open the page, the log and the download; a link to anywhere else never gets the token.
import { JobUrls } from '@img/shared/layout';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import { errorCodes } from '@img/shared/errors';
import { jobToken, withJobToken, type Job } from '@img/shared/jobs';
import type { Mail } from './mailer.ts';
import type { OutcomeMessage } from './handlers/notify.ts';

const dir = fileURLToPath(new URL('./templates/', import.meta.url));

/** Subject pieces come from validated values, and any control character is flattened all the same. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 160);

function humanSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** The link with the job's token when it points into IMG (the public URL's origin); as it is otherwise. */
function tokenLink(publicUrl: string, url: string | undefined, token: string): string | undefined {
  if (!url) return url;
  try {
    return new URL(url).origin === new URL(publicUrl).origin ? withJobToken(url, token) : url;
  } catch {
    return url;
  }
}

/** What the email shows of the job besides the outcome: its type, platform and suite, as the frontend's notify message says. */
export type MailJob = Pick<Job, 'type'> & Partial<Pick<Job, 'platform' | 'suite' | 'arch'>>;

/** The manifest, SBOM, SHA256SUMS and its signature of a job whose build kept a manifest; none otherwise. */
function provenanceLinks(publicUrl: string, msg: OutcomeMessage, token: string) {
  if (!('packages' in msg) || msg.packages === undefined) return undefined;
  const urls = new JobUrls(publicUrl);
  const image = urls.image(msg.id);
  return {
    packages: msg.packages,
    manifest: withJobToken(`${urls.api(msg.id)}/manifest`, token),
    sbom: withJobToken(`${image}/sbom.spdx.json`, token),
    sums: withJobToken(`${image}/SHA256SUMS`, token),
    signature: withJobToken(`${image}/SHA256SUMS.sign`, token),
    key: `${publicUrl}/signing-key.asc`,
  };
}

export async function renderMail(opts: { publicUrl: string; retentionDays: number; tokenSecret: string }, msg: OutcomeMessage, job: MailJob | null): Promise<Mail> {
  const token = jobToken(opts.tokenSecret, msg.id);
  const kind = 'sha256' in msg ? 'done' : 'code' in msg ? 'failed' : 'cancelled';
  const type = msg.imagetype ?? job?.type ?? 'image';
  const platform = job?.platform ?? '';
  // The build's own word first (it read the kickstart); the job's record, made at submission, otherwise.
  const suite = ('suite' in msg ? msg.suite : undefined) ?? job?.suite ?? '';
  const arch = ('arch' in msg ? msg.arch : undefined) ?? job?.arch ?? 'amd64';
  const data = {
    msg: {
      ...msg,
      ...('url' in msg ? { url: tokenLink(opts.publicUrl, msg.url, token) } : {}),
      ...('logurl' in msg ? { logurl: tokenLink(opts.publicUrl, msg.logurl, token) } : {}),
    },
    type, platform, suite, arch,
    retentionDays: opts.retentionDays,
    jobUrl: withJobToken(new JobUrls(opts.publicUrl).page(msg.id), token),
    size: 'size' in msg ? humanSize(msg.size) : '',
    // A .zst download: the image's own size and sha256 once decompressed, beside the file's.
    disk: 'disk_size' in msg && msg.disk_size !== undefined ? { size: humanSize(msg.disk_size), sha256: msg.disk_sha256 ?? '', name: msg.filename.replace(/\.zst$/, '') } : undefined,
    title: 'code' in msg ? errorCodes[msg.code].title : '',
    provenance: provenanceLinks(opts.publicUrl, msg, token),
  };
  const [text, html] = await Promise.all([
    ejs.renderFile(`${dir}${kind}.text.ejs`, data, { async: false }),
    ejs.renderFile(`${dir}${kind}.html.ejs`, data, { async: false }),
  ]);
  const what = `${type}${platform ? ` ${platform}` : ''}`;
  const short = msg.id.slice(0, 8);
  const subject = kind === 'done' ? `[IMG] Your ${what} image is ready (job ${short})`
    : kind === 'failed' ? `[IMG] Your ${what} image failed: ${'code' in msg ? errorCodes[msg.code].title : ''} (job ${short})`
      : `[IMG] Your ${what} image build was cancelled (job ${short})`;
  return { to: msg.email, subject: oneLine(subject), text, html, headers: { 'X-IMG-Job': msg.id, 'X-IMG-Outcome': kind } };
}
