// A small SMTP server that keeps every mail it receives (as .eml files) and shows them: a page a
// person can read in a browser, and a JSON API the tests use. For the local stack only.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

export interface StoredMail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  date: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

export interface MailCatcherOptions {
  dir: string;
  smtpPort: number;
  httpPort: number;
  host?: string;
  /** For tests of delivery failures: reject every recipient matching this with a permanent error. */
  rejectRecipients?: RegExp;
}

function addresses(a: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  return list.flatMap((x) => x.value.map((v) => v.address ?? '')).filter(Boolean);
}

async function toStored(id: string, mail: ParsedMail): Promise<StoredMail> {
  const headers: Record<string, string> = {};
  for (const line of mail.headerLines) headers[line.key] = line.line.slice(line.key.length + 1).trim();
  return {
    id,
    from: addresses(mail.from).join(', '),
    to: addresses(mail.to),
    subject: mail.subject ?? '',
    date: (mail.date ?? new Date()).toISOString(),
    text: mail.text ?? '',
    html: typeof mail.html === 'string' ? mail.html : '',
    headers,
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class MailCatcher {
  private smtp?: SMTPServer;
  private http?: HttpServer;
  private seq = 0;
  private readonly parsed = new Map<string, StoredMail>();

  constructor(private readonly opts: MailCatcherOptions) {}

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const host = this.opts.host ?? '127.0.0.1';
    this.smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      size: 25 * 1024 * 1024,
      onRcptTo: (address, _session, cb) => {
        if (this.opts.rejectRecipients?.test(address.address)) {
          const err = new Error('mailbox unavailable') as Error & { responseCode: number };
          err.responseCode = 550;
          cb(err);
          return;
        }
        cb();
      },
      onData: (stream, _session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const id = `${Date.now()}-${process.pid}-${++this.seq}`;
          writeFile(join(this.opts.dir, `${id}.eml`), Buffer.concat(chunks)).then(() => cb(), cb);
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.smtp!.once('error', reject);
      this.smtp!.listen(this.opts.smtpPort, host, () => resolve());
    });
    this.http = createHttpServer((req, res) => {
      this.route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x')).then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err.message);
      });
    });
    await new Promise<void>((resolve) => this.http!.listen(this.opts.httpPort, host, () => resolve()));
  }

  async list(to?: string): Promise<StoredMail[]> {
    const files = (await readdir(this.opts.dir)).filter((f) => f.endsWith('.eml')).sort();
    // A stored message never changes: each is parsed once (a poll of a thousand messages took most of a second).
    const present = new Set(files);
    for (const f of this.parsed.keys()) if (!present.has(f)) this.parsed.delete(f);
    const mails = await Promise.all(files.map(async (f) => {
      const known = this.parsed.get(f);
      if (known) return known;
      const mail = await toStored(f.slice(0, -4), await simpleParser(await readFile(join(this.opts.dir, f))));
      this.parsed.set(f, mail);
      return mail;
    }));
    return to ? mails.filter((m) => m.to.some((a) => a.toLowerCase() === to.toLowerCase())) : mails;
  }

  private async route(method: string, url: URL): Promise<{ status: number; type: string; body: string }> {
    if (url.pathname === '/api/messages' && method === 'GET') {
      return { status: 200, type: 'application/json', body: JSON.stringify(await this.list(url.searchParams.get('to') ?? undefined)) };
    }
    if (url.pathname === '/api/messages' && method === 'DELETE') {
      for (const f of await readdir(this.opts.dir)) if (f.endsWith('.eml')) await rm(join(this.opts.dir, f));
      return { status: 204, type: 'text/plain', body: '' };
    }
    const m = /^\/messages\/([\w.-]+)$/.exec(url.pathname);
    if (m && method === 'GET') {
      const mail = (await this.list()).find((x) => x.id === m[1]);
      if (!mail) return { status: 404, type: 'text/plain', body: 'no such message' };
      const body = `<!doctype html><meta charset="utf-8"><title>${esc(mail.subject)}</title>
<p><a href="/">all messages</a></p><h1>${esc(mail.subject)}</h1>
<p>From ${esc(mail.from)} to ${esc(mail.to.join(', '))}, ${esc(mail.date)}</p>
<pre style="white-space:pre-wrap">${esc(mail.text)}</pre>`;
      return { status: 200, type: 'text/html; charset=utf-8', body };
    }
    if (url.pathname === '/' && method === 'GET') {
      const rows = (await this.list()).reverse().map((x) => `<tr><td>${esc(x.date)}</td><td>${esc(x.to.join(', '))}</td><td><a href="/messages/${esc(x.id)}">${esc(x.subject)}</a></td></tr>`);
      const body = `<!doctype html><meta charset="utf-8"><title>IMG mail catcher</title>
<h1>Mail received by the local SMTP server</h1><table border="1" cellpadding="4"><tr><th>date</th><th>to</th><th>subject</th></tr>${rows.join('')}</table>`;
      return { status: 200, type: 'text/html; charset=utf-8', body };
    }
    return { status: 404, type: 'text/plain', body: 'not found' };
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.smtp ? this.smtp.close(() => r()) : r()));
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
  }
}
