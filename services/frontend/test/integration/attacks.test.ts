// What a hostile client tries: script in every text field, a 1 GB upload, `..` in paths, a form
// posted from another site, the operator's views without the operator, floods of submissions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routes, type Broker } from '@img/shared/broker';
import { errorMessage } from '@img/shared/contracts';
import { stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { formSession, rawGet, wipeJobs } from '../support/http.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

const OPERATOR = { user: 'operator', password: 'correct horse battery staple' };
let env: Awaited<ReturnType<typeof stackEnv>>;
let frontend: ServiceProcess;
let broker: Broker;
let base: string;

let stack: FrontendStack | undefined;
before(async () => {
  stack = await startFrontendStack('attack-test', { IMG_OPERATOR_USER: OPERATOR.user, IMG_OPERATOR_PASSWORD: OPERATOR.password });
  ({ env, base, frontend, broker } = stack);
});
after(async () => {
  await stack?.stop();
});

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(2)>';
const basic = `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`;

function assertEscaped(html: string, where: string): void {
  assert.ok(!html.includes(SCRIPT), `${where}: a script tag came through raw`);
  assert.ok(!html.includes('<img src=x'), `${where}: an img tag came through raw`);
  // Quoted attribute values are text (ejs escapes their quotes); outside them no handler may appear.
  assert.ok(!/<[^>]*\sonerror=/i.test(html.replace(/"[^"]*"/g, '""')), `${where}: an event handler came through raw`);
}

test('script in every field of the form comes back escaped on the form', async () => {
  const session = await formSession(base);
  const form = new FormData();
  form.set('email', `${SCRIPT}${IMG}@example.com`);
  form.set('imagetype', `${SCRIPT}${IMG}`);
  form.set('platform', `${SCRIPT}${IMG}`);
  form.set('overlay', `${SCRIPT},${IMG}`);
  form.set('kickstart', `${SCRIPT}\n${IMG}\n`);
  const res = await session.post('/submit', form);
  assert.equal(res.status, 400);
  const html = await res.text();
  assertEscaped(html, 'the form');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the input is kept, escaped');
});

test('script in a job (kickstart, file name, error, log lines, filters) is escaped on every page', async () => {
  const form = new FormData();
  form.set('email', uniqueEmail('xss'));
  form.set('imagetype', 'tar');
  form.set('ksfile', new Blob([`%packages\nhostname\n%end\n%post\necho '${SCRIPT}' '${IMG}'\n%end\n`]), `${IMG}.ks`);
  const created = await fetch(`${base}/api/v1/jobs`, { method: 'POST', body: form });
  assert.equal(created.status, 201);
  const job = (await created.json()) as { id: string; email: string; token: string };
  await mkdir(join(env.IMG_DATA_DIR, 'logs'), { recursive: true });
  await writeFile(join(env.IMG_DATA_DIR, 'logs', `${job.id}.log`), `+ echo ${SCRIPT} ${IMG}\n${SCRIPT}\n`);
  await broker.publish(routes.error, errorMessage, {
    id: job.id, error: `%post failed at ${SCRIPT}`, url: `${base}/job/${job.id}/log`, email: job.email, code: 'post_script_failed', phase: 'post', excerpt: [SCRIPT, IMG],
  });
  await waitFor('the failure', async () => ((await (await fetch(`${base}/api/v1/jobs/${job.id}`)).json()) as { status: string }).status === 'failed', { timeoutMs: 10_000 });
  const pages = [
    `/job/${job.id}`, `/job/${job.id}?fragment=state`, `/job/${job.id}?token=${job.token}`, `/job/${job.id}?fragment=state&token=${job.token}`,
    `/job/${job.id}?token=${job.token}&reveal=secrets`, '/queue', '/', `/queue?email=${encodeURIComponent(IMG)}`,
    `/queue?status=${encodeURIComponent(SCRIPT)}`, `/job/${encodeURIComponent(SCRIPT)}`, `/${encodeURIComponent(SCRIPT)}`,
  ];
  // Anonymously and as the operator (who sees every job in full and may filter by email).
  for (const auth of [{}, { authorization: basic }] as Array<Record<string, string>>) {
    for (const p of pages) {
      const res = await fetch(`${base}${p}`, { headers: { accept: 'text/html', ...auth } });
      const html = await res.text();
      assertEscaped(html, p);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    }
  }
  for (const p of [`/job/${job.id}?token=${job.token}`, `/job/${job.id}?token=${job.token}&reveal=secrets`]) {
    const page = await (await fetch(`${base}${p}`)).text();
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${p} shows the script as text`);
  }
  // The log as plain text is served as text/plain with nosniff: a browser never runs it.
  const log = await fetch(`${base}/job/${job.id}/log?token=${job.token}`);
  assert.match(log.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(log.headers.get('x-content-type-options'), 'nosniff');
});

test('every page carries the security headers, with a script policy that allows no inline script', async () => {
  const res = await fetch(`${base}/queue`);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(res.headers.get('x-frame-options'));
  assert.equal(res.headers.get('x-powered-by'), null);
  assert.equal(res.headers.get('referrer-policy'), 'same-origin');
});

/** Streams `total` bytes as a multipart upload, stopping as soon as the server answers. */
function streamUpload(path: string, total: number, headers: Record<string, string>, preamble: string): Promise<{ status: number; ms: number; sent: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let sent = 0;
    let answered = false;
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'POST', headers }, (res) => {
      answered = true;
      const ms = performance.now() - started;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, ms, sent, body });
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(new Error(`the upload failed before an answer after ${sent} bytes: ${err.message}`));
    });
    const chunk = Buffer.alloc(1 << 20, 0x61);
    req.write(preamble);
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

test('a 1 GB upload is refused within moments, without filling memory or the disk', async () => {
  const GB = 1024 ** 3;
  const pid = frontend.proc.pid!;
  const rssBefore = await rssBytes(pid);
  const diskBefore = execFileSync('du', ['-sb', env.IMG_DATA_DIR], { encoding: 'utf8' }).split('\t')[0];
  const session = await formSession(base);
  const boundary = 'x-img-test-boundary';
  const preamble = [`--${boundary}`, 'Content-Disposition: form-data; name="_csrf"', '', session.token,
    `--${boundary}`, 'Content-Disposition: form-data; name="ksfile"; filename="huge.ks"', 'Content-Type: text/plain', '', ''].join('\r\n');
  const type = `multipart/form-data; boundary=${boundary}`;
  // Streamed without a length (chunked): the server counts and stops at its limit.
  for (const path of ['/submit', '/api/v1/jobs']) {
    const r = await streamUpload(path, GB, { 'content-type': type, cookie: session.cookie, 'transfer-encoding': 'chunked' }, preamble);
    assert.equal(r.status, 413, `${path}: ${r.body.slice(0, 300)}`);
    assert.match(r.body, /larger than the limit/);
    assert.ok(r.sent < 256 * 1024 ** 2, `${path} stopped the upload after ${r.sent} bytes`);
  }
  // Declared up front: refused before a byte of the body is read.
  const declared = await streamUpload('/api/v1/jobs', GB, { 'content-type': type, 'content-length': String(GB) }, preamble);
  assert.equal(declared.status, 413);
  assert.ok(declared.sent < 256 * 1024 ** 2, `the upload was stopped after ${declared.sent} bytes`);
  const growth = (await rssBytes(pid)) - rssBefore;
  assert.ok(growth < 64 * 1024 ** 2, `the frontend grew by ${(growth / 1024 ** 2).toFixed(0)} MiB`);
  assert.equal(execFileSync('du', ['-sb', env.IMG_DATA_DIR], { encoding: 'utf8' }).split('\t')[0], diskBefore, 'nothing was written to disk');
  assert.equal((await fetch(`${base}/healthz`)).status, 200, 'the server is fine afterwards');
});

test('`..` in any spelling cannot leave the image or static directories', async () => {
  const id = 'ab'.repeat(16);
  const paths = [
    '/images/../../../../etc/passwd', '/images/..%2f..%2f..%2f..%2fetc%2fpasswd', '/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/images/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/images/..%252f..%252fetc%252fpasswd', '/images/..%5c..%5cetc%5cpasswd',
    `/images/${id}/..%2f..%2f..%2f..%2fetc%2fpasswd`, `/images/${id}%2f..%2f..%2f..%2fetc%2fpasswd`, '/images/%00', '/images/.%2e/.%2e/etc/passwd',
    '/static/..%2f..%2f..%2fpackage.json', '/static/%2e%2e/%2e%2e/config.ts', '/static/../app.ts', '/job/..%2f..%2fetc%2fpasswd/log',
    // The charting library's directory, served from node_modules.
    '/static/vendor/uplot/..%2fpackage.json', '/static/vendor/uplot/%2e%2e/%2e%2e/%2e%2e/package.json', '/static/vendor/uplot/../../../../package.json',
  ];
  for (const p of paths) {
    const r = await rawGet(base, p);
    assert.ok(r.status === 404 || r.status === 400, `${p} answered ${r.status}`);
    assert.doesNotMatch(r.body, /root:x:0:0|"workspaces"|createApp|"name": "uplot"/, `${p} leaked a file`);
  }
});

test('a form post without the CSRF token, with a forged one or without the cookie is refused', async () => {
  const session = await formSession(base);
  const fields = () => {
    const f = new FormData();
    f.set('email', uniqueEmail('csrf'));
    f.set('imagetype', 'tar');
    f.set('kickstart', '%packages\nhostname\n%end\n');
    return f;
  };
  const before = ((await (await fetch(`${base}/api/v1/jobs?limit=1`)).json()) as { total: number }).total;
  const none = await session.post('/submit', fields(), { withToken: false });
  assert.equal(none.status, 403);
  assert.match(await none.text(), /expired or did not come from this site/);
  const forged = fields();
  forged.set('_csrf', 'A'.repeat(43));
  assert.equal((await session.post('/submit', forged, { withToken: false })).status, 403);
  const other = await formSession(base);
  const mixed = fields();
  mixed.set('_csrf', other.token);
  assert.equal((await session.post('/submit', mixed, { withToken: false })).status, 403, 'a token of another session');
  const noCookie = fields();
  noCookie.set('_csrf', session.token);
  assert.equal((await fetch(`${base}/submit`, { method: 'POST', body: noCookie, redirect: 'manual' })).status, 403);
  assert.equal(((await (await fetch(`${base}/api/v1/jobs?limit=1`)).json()) as { total: number }).total, before, 'nothing was queued');
  const ok = await session.post('/submit', fields());
  assert.equal(ok.status, 303, 'with the token it goes through');
  const [jobPath, query] = ok.headers.get('location')!.split('?') as [string, string];
  assert.match(query, /^token=/, 'the job page opens with the job\'s token');

  // The job page's buttons too, even with the job's token.
  const cancel = await session.post(`${jobPath}/cancel?${query}`, new URLSearchParams(), { withToken: false });
  assert.equal(cancel.status, 403);
  assert.match(await cancel.text(), /expired or did not come from this site/);
  const state = (await (await fetch(`${base}/api/v1${jobPath.replace('/job/', '/jobs/')}`)).json()) as { status: string };
  assert.equal(state.status, 'queued', 'the job was not cancelled');
  const cancelled = await session.post(`${jobPath}/cancel?${query}`, new URLSearchParams());
  assert.equal(cancelled.status, 303);
});

test('the operator views need the operator: 401 with a basic-auth challenge, 403 for wrong credentials, then the confirmation', async () => {
  const anon = await fetch(`${base}/clear`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="IMG operator"/);
  const wrong = await fetch(`${base}/clear`, { headers: { authorization: `Basic ${Buffer.from('operator:nope').toString('base64')}` } });
  assert.equal(wrong.status, 403, 'wrong credentials are a 403');
  const page = await fetch(`${base}/clear`, { headers: { authorization: basic } });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /cannot be undone/);
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  const post = (body: Record<string, string>, auth = basic) => fetch(`${base}/clear`, {
    method: 'POST', redirect: 'manual', headers: { authorization: auth, cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body),
  });
  assert.equal((await post({ _csrf: token, confirm: 'yes' }, '')).status, 401);
  assert.equal((await post({ confirm: 'yes' })).status, 403, 'the token is still needed');
  assert.equal((await post({ _csrf: token })).status, 400, 'the box must be ticked');
  const cleared = await post({ _csrf: token, confirm: 'yes' });
  assert.equal(cleared.status, 303);
  assert.match(cleared.headers.get('location') ?? '', /^\/queue\?cleared=\d+$/);
  const del = await fetch(`${base}/job/${'ab'.repeat(16)}/delete`, { method: 'POST' });
  assert.equal(del.status, 401);
});

test('submissions past the per-client rate get a 429, and past the pending cap a 503, each saying why', async () => {
  await wipeJobs();
  const limited = await startService('frontend', await stackEnv({ IMG_SUBMIT_RATE_LIMIT: '3', IMG_SUBMIT_RATE_WINDOW_S: '600', IMG_MAX_PENDING_JOBS: '2' }));
  try {
    const url = `http://127.0.0.1:${/"port":(\d+)/.exec(limited.output.find((l) => l.includes('"ready"')) ?? '')?.[1]}`;
    const submit = () => fetch(`${url}/api/v1/jobs`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('flood'), imagetype: 'tar', kickstart: '%packages\nhostname\n%end\n' }),
    });
    assert.equal((await submit()).status, 201);
    assert.equal((await submit()).status, 201);
    const full = await submit();
    assert.equal(full.status, 503);
    assert.equal(full.headers.get('retry-after'), '60');
    assert.match(((await full.json()) as { error: { message: string } }).error.message, /queue is full \(2 jobs/);
    const flood = await submit();
    assert.equal(flood.status, 429);
    assert.ok(Number(flood.headers.get('retry-after')) > 0);
    assert.match(((await flood.json()) as { error: { message: string } }).error.message, /at most 3 every 600 s/);
  } finally {
    await limited.stop();
  }
});
