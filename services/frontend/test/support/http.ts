// Helpers for the frontend's tests: a browser-like form session (cookie + CSRF token), a reader
// of server-sent events, and a clean job collection for a test file that counts jobs.
import { request as httpRequest } from 'node:http';
import { connectTestDatabase } from '@img/shared/testing';

/** Gets a page with a form, keeps its CSRF cookie and token, and posts forms as a browser would. */
export async function formSession(base: string, page = '/submit') {
  const res = await fetch(`${base}${page}`);
  const html = await res.text();
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!cookie || !token) throw new Error(`no CSRF cookie or token on ${page} (${res.status})`);
  return {
    cookie,
    token,
    async post(path: string, body: FormData | URLSearchParams, opts: { withToken?: boolean; headers?: Record<string, string> } = {}) {
      if (opts.withToken !== false) body.set('_csrf', token);
      return fetch(`${base}${path}`, { method: 'POST', body, redirect: 'manual', headers: { cookie, ...(opts.headers ?? {}) } });
    },
  };
}

export interface SseEvent { event: string; data: unknown; id?: string }

/** Reads events until `until` says stop or the time runs out; returns them all. */
export async function readEvents(url: string, until: (e: SseEvent, all: SseEvent[]) => boolean, opts: { timeoutMs: number; headers?: Record<string, string>; onOpen?: () => Promise<void> | void }): Promise<{ events: SseEvent[]; status: number; contentType: string; ended: boolean }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs);
  const events: SseEvent[] = [];
  let ended = false;
  try {
    const res = await fetch(url, { signal: ctl.signal, headers: opts.headers ?? {} });
    const contentType = res.headers.get('content-type') ?? '';
    if (!res.ok || !res.body) return { events, status: res.status, contentType, ended };
    await opts.onOpen?.();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const e: SseEvent = { event: 'message', data: undefined };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
            else if (line.startsWith('id: ')) e.id = line.slice(4);
          }
          if (e.data === undefined) continue;
          events.push(e);
          if (until(e, events)) {
            ctl.abort();
            return { events, status: res.status, contentType, ended };
          }
        }
      }
      ended = true;
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
    return { events, status: res.status, contentType, ended };
  } finally {
    clearTimeout(timer);
  }
}

/** A raw GET, path sent exactly as given (fetch would resolve `..` before sending). */
export function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Empties the job collection so a file's counts start from nothing (files run one at a time). */
export async function wipeJobs(): Promise<void> {
  const db = await connectTestDatabase();
  try {
    await db.collection('image_jobs').deleteMany({});
    await db.collection('frontend_state').deleteMany({});
  } finally {
    await db.close();
  }
}
