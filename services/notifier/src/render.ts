// Emails from ejs templates: a text part and an HTML part, links built from the public base URL.
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { ErrorMessage, LinkMessage } from '@img/shared/contracts';
import { errorCodes } from '@img/shared/errors';
import type { Job } from '@img/shared/jobs';
import type { Mail } from './mailer.ts';

const dir = fileURLToPath(new URL('./templates/', import.meta.url));

/** Subject pieces come from validated values, and any line break is flattened all the same. */
const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ').slice(0, 120);

function humanSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

export async function renderMail(publicUrl: string, msg: LinkMessage | ErrorMessage, job: Job | null): Promise<Mail> {
  const done = 'sha256' in msg;
  const type = msg.imagetype ?? job?.type ?? 'image';
  const platform = job?.platform ?? '';
  const data = {
    msg, type, platform,
    jobUrl: `${publicUrl}/job/${msg.id}`,
    size: done ? humanSize(msg.size) : '',
    title: done ? '' : errorCodes[msg.code].title,
  };
  const base = done ? 'done' : 'failed';
  const [text, html] = await Promise.all([
    ejs.renderFile(`${dir}${base}.text.ejs`, data, { async: false }),
    ejs.renderFile(`${dir}${base}.html.ejs`, data, { async: false }),
  ]);
  const what = `${type}${platform ? ` ${platform}` : ''}`;
  const subject = done
    ? `[IMG] Your ${what} image is ready (job ${msg.id.slice(0, 8)})`
    : `[IMG] Your ${what} image failed: ${errorCodes[msg.code].title} (job ${msg.id.slice(0, 8)})`;
  return { to: msg.email, subject: oneLine(subject), text, html, headers: { 'X-IMG-Job': msg.id, 'X-IMG-Outcome': done ? 'done' : 'failed' } };
}
