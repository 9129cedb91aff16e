// A job belongs to its submitter: every per-job route against the real frontend (and the real
// notifier for the emails' links), asked anonymously, with another job's token, with the job's own
// token (as a bearer header and as ?token=) and as the operator. Then the cross-site posts, the
// public queue, the kickstart check (anyone's), the redacted kickstart, and the links of the emails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routes } from '@img/shared/broker';
import { errorMessage, linkMessage } from '@img/shared/contracts';
import { mailsTo, stackEnv, startService, testTokenSecret, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { formSession } from '../support/http.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

const OPERATOR_TOKEN = 'operator-token-for-the-access-tests';
const EVIL = 'http://evil.example';
let stack: FrontendStack;
let notifier: ServiceProcess | undefined;
let base: string;

before(async () => {
  stack = await startFrontendStack('access-test', { IMG_OPERATOR_TOKEN: OPERATOR_TOKEN, IMG_MAX_PENDING_PER_SUBMITTER: '1000', IMG_MAX_PENDING_JOBS: '1000' });
  base = stack.base;
  notifier = await startService('notifier', stack.env);
});
after(async () => {
  await notifier?.stop();
  await stack?.stop();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SECRET_KS = [
  'rootpw --plaintext hunter2-root-secret',
  'user --name=alice --password=alice-pw-secret --plaintext',
  'user --name=bob --iscrypted --password=$6$saltsalt$bobhashsecret',
  '%packages', 'hostname', '%end', '',
].join('\n');
const SECRETS = ['hunter2-root-secret', 'alice-pw-secret', 'bobhashsecret'];

async function create(fields: Json = {}): Promise<Json> {
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('access'), imagetype: 'tar', kickstart: `%packages\nhostname\n%end\n# ${Math.random()}\n`, ...fields }),
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(body));
  handedOut.add(body.token);
  return body;
}

/** Every token the submissions answered with: none may ever appear in a service's log. */
const handedOut = new Set<string>();

const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };
const statusOf = async (id: string): Promise<string | number> => {
  const res = await fetch(`${base}/api/v1/jobs/${id}`, { headers: operator });
  return res.status === 200 ? ((await res.json()) as Json).status : res.status;
};

async function finish(job: Json, content = Buffer.from(`image of ${job.id}`)): Promise<void> {
  const dir = join(stack.env.IMG_DATA_DIR, 'images', job.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'image.tar.zst'), content);
  await mkdir(join(stack.env.IMG_DATA_DIR, 'logs'), { recursive: true });
  await writeFile(join(stack.env.IMG_DATA_DIR, 'logs', `${job.id}.log`), `build log of ${job.id}\n`);
  await stack.broker.publish(routes.link, linkMessage, {
    id: job.id, url: `${base}/images/${job.id}`, email: job.email, imagetype: 'tar', filename: 'image.tar.zst', size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'), duration_s: 3, logurl: `${base}/job/${job.id}/log`,
  });
  await waitFor('the job to be done', async () => (await statusOf(job.id)) === 'done', { timeoutMs: 10_000 });
}

async function fail(job: Json): Promise<void> {
  await mkdir(join(stack.env.IMG_DATA_DIR, 'logs'), { recursive: true });
  await writeFile(join(stack.env.IMG_DATA_DIR, 'logs', `${job.id}.log`), `build log of ${job.id}\n+ false\n`);
  await stack.broker.publish(routes.error, errorMessage, { id: job.id, error: 'line 5: false failed', url: `${base}/job/${job.id}/log`, email: job.email, code: 'post_script_failed', phase: 'post', excerpt: ['+ false'] });
  await waitFor('the job to fail', async () => (await statusOf(job.id)) === 'failed', { timeoutMs: 10_000 });
}

type Who = 'anonymous' | 'other job\'s token' | 'token (bearer)' | 'token (?token=)' | 'operator';
const everyone: Who[] = ['anonymous', 'other job\'s token', 'token (bearer)', 'token (?token=)', 'operator'];

interface Row {
  route: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** The path for this job; `job` is a fresh one per cell for the routes that change it. */
  path: (job: Json) => string;
  /** What each cell acts on: the shared finished job, or a fresh job in the state the route needs. */
  target: 'done' | 'queued' | 'failed' | 'none';
  form?: boolean;
  expect: Record<Who, number>;
}

const per = (anonymous: number, other: number, bearer: number, query: number, op: number): Record<Who, number> =>
  ({ anonymous, 'other job\'s token': other, 'token (bearer)': bearer, 'token (?token=)': query, operator: op });

// 401 without any credential, 403 with one that is not the right one, everywhere. The job JSON and
// page are public views without a credential (200). Operator routes take no job token (403).
const matrix: Row[] = [
  { route: 'job JSON', method: 'GET', path: (j) => `/api/v1/jobs/${j.id}`, target: 'done', expect: per(200, 403, 200, 200, 200) },
  { route: 'job page', method: 'GET', path: (j) => `/job/${j.id}`, target: 'done', expect: per(200, 403, 200, 200, 200) },
  { route: 'job page state fragment', method: 'GET', path: (j) => `/job/${j.id}?fragment=state`, target: 'done', expect: per(200, 403, 200, 200, 200) },
  { route: 'kickstart', method: 'GET', path: (j) => `/api/v1/jobs/${j.id}/kickstart`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'log (API)', method: 'GET', path: (j) => `/api/v1/jobs/${j.id}/log`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'log (page)', method: 'GET', path: (j) => `/job/${j.id}/log`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'live log (SSE)', method: 'GET', path: (j) => `/api/v1/jobs/${j.id}/events`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'download', method: 'GET', path: (j) => `/images/${j.id}`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'checksum file', method: 'GET', path: (j) => `/images/${j.id}/sha256`, target: 'done', expect: per(401, 403, 200, 200, 200) },
  { route: 'cancel (API)', method: 'POST', path: (j) => `/api/v1/jobs/${j.id}/cancel`, target: 'queued', expect: per(401, 403, 200, 200, 200) },
  { route: 'cancel (form)', method: 'POST', path: (j) => `/job/${j.id}/cancel`, target: 'queued', form: true, expect: per(401, 403, 303, 303, 303) },
  { route: 'retry (API)', method: 'POST', path: (j) => `/api/v1/jobs/${j.id}/retry`, target: 'failed', expect: per(401, 403, 201, 201, 201) },
  { route: 'retry (form)', method: 'POST', path: (j) => `/job/${j.id}/retry`, target: 'failed', form: true, expect: per(401, 403, 303, 303, 303) },
  { route: 'delete (API)', method: 'DELETE', path: (j) => `/api/v1/jobs/${j.id}`, target: 'failed', expect: per(401, 403, 403, 403, 200) },
  { route: 'delete (form)', method: 'POST', path: (j) => `/job/${j.id}/delete`, target: 'failed', form: true, expect: per(401, 403, 403, 403, 303) },
  { route: 'queue by email', method: 'GET', path: (j) => `/api/v1/jobs?email=${encodeURIComponent(j.email)}`, target: 'done', expect: per(401, 403, 403, 403, 200) },
  { route: 'clear page', method: 'GET', path: () => '/clear', target: 'none', expect: per(401, 403, 403, 403, 200) },
  { route: 'clear (form)', method: 'POST', path: () => '/clear', target: 'none', form: true, expect: per(401, 403, 403, 403, 303) },
  // Last: the operator's clear removes every finished job.
  { route: 'clear (API)', method: 'DELETE', path: () => '/api/v1/jobs', target: 'none', expect: per(401, 403, 403, 403, 200) },
];

function withQuery(path: string, token: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

test('the authorization matrix: every per-job and operator route × anonymous, another job\'s token, the token, the operator', async () => {
  const shared = await create();
  await finish(shared);
  const other = await create();
  const session = await formSession(base);
  const failures: string[] = [];
  const fresh = async (target: Row['target']): Promise<Json> => {
    if (target === 'done' || target === 'none') return shared;
    const j = await create();
    if (target === 'failed') await fail(j);
    return j;
  };
  for (const row of matrix) {
    for (const who of everyone) {
      const job = await fresh(row.target);
      const headers: Record<string, string> = {};
      let path = row.path(job);
      if (who === 'other job\'s token') path = withQuery(path, other.token);
      if (who === 'token (?token=)') path = withQuery(path, job.token);
      if (who === 'token (bearer)') headers.authorization = `Bearer ${job.token}`;
      if (who === 'operator') Object.assign(headers, operator);
      const before = row.target === 'none' ? undefined : await statusOf(job.id);
      const ctl = new AbortController();
      let res: Response;
      if (row.form) {
        const body = new URLSearchParams(row.route.startsWith('clear') ? { confirm: 'yes' } : {});
        res = await session.post(path, body, { headers: { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } });
      } else {
        res = await fetch(`${base}${path}`, { method: row.method, headers: { accept: 'application/json', ...headers }, redirect: 'manual', signal: ctl.signal });
      }
      // A live stream stays open: its status is all that is read of it.
      const text = row.route === 'live log (SSE)' && res.status === 200 ? '' : await res.text();
      ctl.abort();
      const want = row.expect[who];
      if (res.status !== want) failures.push(`${row.method} ${row.route} as ${who}: ${res.status}, expected ${want} ${text.slice(0, 160)}`);
      if (want >= 400 && res.status === want) {
        assert.match(res.headers.get('content-type') ?? '', /json/, `${row.route} as ${who} answers JSON`);
        const code = (JSON.parse(text) as Json).error?.code;
        assert.equal(code, want === 401 ? 'unauthorized' : 'forbidden', `${row.route} as ${who}`);
        // A refused request changes nothing.
        if (before !== undefined) assert.equal(await statusOf(job.id), before, `${row.route} as ${who} left the job alone`);
      }
      if (row.route === 'download' && res.status === 200) assert.equal(text, `image of ${job.id}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('the status rule: 401 says how to send the token, 403 says the token is wrong; an unknown job is a 404 for everyone', async () => {
  const job = await create();
  const anon = await fetch(`${base}/api/v1/jobs/${job.id}/log`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.match(((await anon.json()) as Json).error.message, /token/);
  const wrong = await fetch(`${base}/api/v1/jobs/${job.id}/log`, { headers: { authorization: 'Bearer not-the-token' } });
  assert.equal(wrong.status, 403);
  for (const headers of [{}, operator, { authorization: `Bearer ${job.token}` }]) {
    assert.equal((await fetch(`${base}/api/v1/jobs/${'0'.repeat(32)}/log`, { headers })).status, 404);
  }
  // The token of one job is a different string from every other job's, and not derived from the id alone.
  const second = await create();
  assert.match(job.token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(job.token, second.token);
  assert.ok(!job.token.includes(job.id));
});

test('a cross-site post (Origin of another site, or Sec-Fetch-Site: cross-site) to every state-changing route is refused; the job is unchanged', async () => {
  const queued = await create();
  const failed = await create();
  await fail(failed);
  const session = await formSession(base);
  const total = async () => ((await (await fetch(`${base}/api/v1/jobs?limit=1`)).json()) as Json).total as number;
  const jobsBefore = await total();
  const submission = () => {
    const f = new FormData();
    f.set('email', uniqueEmail('evil'));
    f.set('imagetype', 'tar');
    f.set('kickstart', '%packages\nhostname\n%end\n');
    return f;
  };
  // Each with the right credentials and a valid CSRF session: only where it came from is wrong.
  const attempts: Array<{ route: string; send: (h: Record<string, string>) => Promise<Response> }> = [
    { route: 'POST /api/v1/jobs', send: (h) => fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify({ email: uniqueEmail('evil'), imagetype: 'tar', kickstart: '%packages\nhostname\n%end\n' }) }) },
    { route: 'POST /submit', send: (h) => session.post('/submit', submission(), { headers: h }) },
    { route: 'POST /api/v1/jobs/:id/cancel', send: (h) => fetch(`${base}/api/v1/jobs/${queued.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${queued.token}`, ...h } }) },
    { route: 'POST /job/:id/cancel', send: (h) => session.post(`/job/${queued.id}/cancel?token=${queued.token}`, new URLSearchParams(), { headers: h }) },
    { route: 'POST /api/v1/jobs/:id/retry', send: (h) => fetch(`${base}/api/v1/jobs/${failed.id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${failed.token}`, ...h } }) },
    { route: 'POST /job/:id/retry', send: (h) => session.post(`/job/${failed.id}/retry?token=${failed.token}`, new URLSearchParams(), { headers: h }) },
    { route: 'DELETE /api/v1/jobs/:id', send: (h) => fetch(`${base}/api/v1/jobs/${failed.id}`, { method: 'DELETE', headers: { ...operator, ...h } }) },
    { route: 'POST /job/:id/delete', send: (h) => session.post(`/job/${failed.id}/delete`, new URLSearchParams(), { headers: { ...operator, ...h } }) },
    { route: 'DELETE /api/v1/jobs', send: (h) => fetch(`${base}/api/v1/jobs`, { method: 'DELETE', headers: { ...operator, ...h } }) },
    { route: 'POST /clear', send: (h) => session.post('/clear', new URLSearchParams({ confirm: 'yes' }), { headers: { ...operator, ...h } }) },
  ];
  const ways: Array<[string, Record<string, string>]> = [
    ['Origin: http://evil.example', { origin: EVIL }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['both', { origin: EVIL, 'sec-fetch-site': 'cross-site' }],
    ['Origin: null', { origin: 'null' }],
  ];
  for (const a of attempts) {
    for (const [way, h] of ways) {
      const res = await a.send({ accept: 'application/json', ...h });
      const body = (await res.json().catch(() => ({}))) as Json;
      assert.equal(res.status, 403, `${a.route} with ${way}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, 'cross_origin', `${a.route} with ${way}`);
      assert.match(body.error.message, /another site/);
    }
  }
  assert.equal(await statusOf(queued.id), 'queued', 'not cancelled');
  assert.equal(await statusOf(failed.id), 'failed', 'neither deleted nor cleared');
  assert.equal(await total(), jobsBefore, 'nothing was submitted or retried');
  // This site's own origin, and no Origin at all (curl, the img command), go through.
  const own = await fetch(`${base}/api/v1/jobs/${queued.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${queued.token}`, origin: new URL(base).origin, 'sec-fetch-site': 'same-origin' } });
  assert.equal(own.status, 200);
  const plain = await fetch(`${base}/api/v1/jobs/${failed.id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${failed.token}` } });
  assert.equal(plain.status, 201);
});

test('the public queue (JSON, page, start page) and a job without its token show no full email and no kickstart', async () => {
  const email = uniqueEmail('publicq');
  const job = await create({ email, kickstart: SECRET_KS });
  const json = (await (await fetch(`${base}/api/v1/jobs?limit=200`)).json()) as Json;
  const listed = (json.jobs as Json[]).find((j) => j.id === job.id);
  assert.ok(listed, 'the job is listed');
  const allowed = new Set(['id', 'email', 'type', 'status', 'phase', 'suite', 'arch', 'progress', 'created', 'started', 'finished', 'duration_s', 'queue_position', 'estimated_start', 'links',
    // The estimates and the timings: how a build started, when it was expected to start and end, and each phase's time.
    'start', 'estimated_finish', 'estimated_build_s', 'estimate_basis', 'actual_start', 'actual_finish', 'estimate_error_pct', 'phase_times']);
  for (const j of json.jobs as Json[]) for (const k of Object.keys(j)) assert.ok(allowed.has(k), `the queue shows only harmless fields, not ${k}`);
  assert.match(listed.email, /^p\*\*\*@example\.com$/);
  assert.deepEqual(Object.keys(listed.links).sort(), ['api', 'page'], 'no links that need the token');
  const single = (await (await fetch(`${base}/api/v1/jobs/${job.id}`)).json()) as Json;
  for (const k of Object.keys(single)) assert.ok(allowed.has(k), `the public view shows only harmless fields, not ${k}`);
  assert.equal(single.email, listed.email);
  assert.equal(single.token, undefined);
  for (const path of ['/api/v1/jobs?limit=200', '/queue', '/queue?fragment=rows', '/', `/job/${job.id}`, `/job/${job.id}?fragment=state`, `/api/v1/jobs/${job.id}`]) {
    const text = await (await fetch(`${base}${path}`)).text();
    assert.ok(!text.includes(email), `${path} shows the full email`);
    assert.ok(!text.includes(email.split('@')[0]!), `${path} shows the email's user part`);
    for (const s of [...SECRETS, 'rootpw', '%packages', 'hostname']) assert.ok(!text.includes(s), `${path} shows the kickstart (${s})`);
    assert.ok(!text.includes(job.token), `${path} shows the token`);
  }
  const page = await (await fetch(`${base}/job/${job.id}`)).text();
  assert.match(page, /for the person who submitted it/);
  assert.doesNotMatch(page, /Cancel the build|id="log"/, 'no log and no buttons without the token');
});

test('the kickstart check is anyone\'s and acts on no job; a job\'s warnings and package check are shown to its owner only', async () => {
  const job = await create({ kickstart: 'install\n%packages\nhostname\n%end\n' });
  // POST /api/v1/kickstart/check needs no credential and takes none into account: the same answer for all.
  const answers: string[] = [];
  for (const headers of [{}, { authorization: `Bearer ${job.token}` }, operator]) {
    const res = await fetch(`${base}/api/v1/kickstart/check`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ kickstart: 'install\n%packages\nhostname\n%end\n' }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    assert.deepEqual(Object.keys(body).sort(), ['architecture', 'errors', 'ok', 'package_check', 'suite', 'warnings']);
    answers.push(JSON.stringify({ ...body, package_check: body.package_check.state }));
  }
  assert.equal(new Set(answers).size, 1, answers.join('\n'));
  const evil = await fetch(`${base}/api/v1/kickstart/check`, { method: 'POST', headers: { 'content-type': 'application/json', origin: EVIL }, body: JSON.stringify({ kickstart: 'lang C\n' }) });
  assert.equal(evil.status, 403, 'a page of another site cannot use it with the visitor\'s address');
  assert.equal(((await evil.json()) as Json).error.code, 'cross_origin');
  // The job's warnings name lines of its kickstart: its owner's, like the kickstart.
  const own = (await (await fetch(`${base}/api/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${job.token}` } })).json()) as Json;
  assert.equal(own.warnings?.[0]?.line, 1, JSON.stringify(own.warnings));
  assert.ok(own.package_check?.how, 'the owner sees where the packages were checked');
  const anon = (await (await fetch(`${base}/api/v1/jobs/${job.id}`)).json()) as Json;
  assert.equal(anon.warnings, undefined);
  assert.equal(anon.package_check, undefined);
  assert.doesNotMatch(await (await fetch(`${base}/job/${job.id}`)).text(), /job-warnings|Packages checked|is ignored/);
  assert.match(await (await fetch(`${base}/job/${job.id}?token=${job.token}`)).text(), /id="job-warnings"/);
});

test('the kickstart is redacted for the token holder and the operator unless revealed', async () => {
  const job = await create({ kickstart: SECRET_KS });
  assert.equal(job.secrets_redacted, true, 'even the submission\'s answer hides them');
  assert.ok(!SECRETS.some((s) => job.kickstart.includes(s)));
  for (const headers of [{ authorization: `Bearer ${job.token}` }, operator]) {
    const shown = (await (await fetch(`${base}/api/v1/jobs/${job.id}`, { headers })).json()) as Json;
    assert.equal(shown.email, job.email, 'the owner sees the full email');
    for (const s of SECRETS) assert.ok(!shown.kickstart.includes(s), `${s} is hidden`);
    assert.match(shown.kickstart, /^rootpw --plaintext \[redacted\]$/m);
    assert.match(shown.kickstart, /^user --name=alice --password=\[redacted\] --plaintext$/m);
    assert.match(shown.kickstart, /^user --name=bob --iscrypted --password=\[redacted\]$/m);
    assert.match(shown.kickstart, /^%packages\nhostname\n%end$/m, 'the rest is intact');
    const revealed = (await (await fetch(`${base}/api/v1/jobs/${job.id}?reveal=secrets`, { headers })).json()) as Json;
    assert.equal(revealed.kickstart, SECRET_KS);
    assert.equal(revealed.secrets_redacted, undefined);
    const text = await fetch(`${base}/api/v1/jobs/${job.id}/kickstart`, { headers });
    assert.equal(text.headers.get('x-secrets-redacted'), 'true');
    const body = await text.text();
    assert.ok(!SECRETS.some((s) => body.includes(s)));
    assert.equal(await (await fetch(`${base}/api/v1/jobs/${job.id}/kickstart?reveal=secrets`, { headers })).text(), SECRET_KS);
  }
  const page = await (await fetch(`${base}/job/${job.id}?token=${job.token}`)).text();
  assert.ok(!SECRETS.some((s) => page.includes(s)), 'the page hides them');
  assert.match(page, /Passwords are hidden/);
  const revealedPage = await (await fetch(`${base}/job/${job.id}?token=${job.token}&reveal=secrets`)).text();
  for (const s of SECRETS) assert.ok(revealedPage.includes(s), `the page shows ${s} when asked`);
  assert.equal((await fetch(`${base}/api/v1/jobs/${job.id}?reveal=everything`, { headers: operator })).status, 400);
  assert.equal((await fetch(`${base}/api/v1/jobs/${job.id}/kickstart?reveal=secrets`)).status, 401, 'revealing needs the token too');
});

test('the job page opened from the form keeps the token in its links and forms', async () => {
  const session = await formSession(base);
  const f = new FormData();
  f.set('email', uniqueEmail('formflow'));
  f.set('imagetype', 'tar');
  f.set('kickstart', `%packages\nhostname\n%end\n# ${Math.random()}\n`);
  const res = await session.post('/submit', f);
  assert.equal(res.status, 303);
  const location = res.headers.get('location') ?? '';
  const m = /^\/job\/([0-9a-f]{32})\?token=([A-Za-z0-9_-]{43})$/.exec(location);
  assert.ok(m, `redirected to ${location}`);
  const [, id, token] = m;
  const page = await (await fetch(`${base}${location}`, { headers: { cookie: session.cookie } })).text();
  assert.ok(page.includes(`href="/job/${id}/log?token=${token}"`), 'the log link keeps the token');
  assert.ok(page.includes(`data-events="/api/v1/jobs/${id}/events?token=${token}"`), 'the live log keeps the token');
  assert.ok(page.includes(`action="/job/${id}/cancel?token=${token}"`), 'the cancel form keeps the token');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  const cancel = await fetch(`${base}/job/${id}/cancel?token=${token}`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf }) });
  assert.equal(cancel.status, 303);
  assert.equal(cancel.headers.get('location'), `/job/${id}?token=${token}`, 'back on the page, token kept');
  const done = await (await fetch(`${base}/job/${id}?token=${token}`)).text();
  assert.ok(done.includes(`action="/job/${id}/retry?token=${token}"`), 'the retry form keeps the token');
  assert.ok(!done.includes('/delete"'), 'no delete button for the owner');
  const retried = await fetch(`${base}/job/${id}/retry?token=${token}`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf }) });
  assert.equal(retried.status, 303);
  const again = /^\/job\/([0-9a-f]{32})\?token=([A-Za-z0-9_-]{43})$/.exec(retried.headers.get('location') ?? '');
  assert.ok(again && again[1] !== id && again[2] !== token, 'the new job opens with its own token');
  assert.equal((await fetch(`${base}/api/v1/jobs/${again[1]}/log?token=${again[2]}`)).status, 200);
});

/** The links of a mail that point into IMG. */
function imgLinks(text: string): string[] {
  return [...new Set(text.match(/https?:\/\/[^\s"<>]+/g) ?? [])].filter((u) => u.startsWith(base));
}

test('the emails\' links carry a working token, and without it they do not work', async () => {
  const ok = await create();
  await finish(ok);
  const bad = await create();
  await fail(bad);
  for (const [job, subject, want] of [[ok, /ready/, ['/job/', '/images/', '/log']], [bad, /failed/, ['/job/', '/log']]] as const) {
    const mail = await waitFor(`the email for ${job.id}`, async () => (await mailsTo(job.email))[0], { timeoutMs: 30_000 });
    assert.match(mail.subject, subject);
    const links = imgLinks(mail.text);
    for (const w of want) assert.ok(links.some((l) => l.includes(w)), `a ${w} link in ${links.join(' ')}`);
    const html = mail.html.replaceAll('&amp;', '&');
    for (const link of links) {
      const u = new URL(link);
      assert.equal(u.searchParams.get('token'), job.token, `${link} carries the job's token`);
      assert.ok(html.includes(link), `the HTML part has ${link} too`);
      const res = await fetch(link);
      assert.equal(res.status, 200, `${link} works`);
      const body = await res.text();
      u.searchParams.delete('token');
      const bare = await fetch(u);
      if (u.pathname === `/job/${job.id}`) {
        // Without the token the page is the public view: no log, no download.
        assert.equal(bare.status, 200);
        const pub = await bare.text();
        assert.ok(body.includes('id="log"') && !pub.includes('id="log"'), 'the log is only on the page with the token');
      } else {
        assert.equal(bare.status, 401, `${u} without the token is refused`);
      }
    }
  }
});

test('no token, operator token or token key appears in the frontend\'s or the notifier\'s log (at debug level)', () => {
  const logs = [...stack.frontend.output, ...(notifier?.output ?? [])].join('\n');
  assert.ok(logs.includes('"msg":"job queued"') && logs.includes('"msg":"email sent"'), 'the logs are there to look at');
  assert.ok(handedOut.size > 20);
  for (const t of handedOut) assert.ok(!logs.includes(t), 'a job token is in a log');
  for (const s of [OPERATOR_TOKEN, stack.env.IMG_TOKEN_SECRET ?? testTokenSecret]) assert.ok(!logs.includes(s), 'a secret setting is in a log');
});

test('operator routes refuse, saying how to configure them, when no operator is configured; a service without IMG_TOKEN_SECRET does not start', async () => {
  const env = await stackEnv({ IMG_OPERATOR_USER: '', IMG_OPERATOR_PASSWORD: '', IMG_OPERATOR_TOKEN: '' });
  const bare = await startService('frontend', env);
  try {
    for (const [method, path] of [['DELETE', '/api/v1/jobs'], ['DELETE', `/api/v1/jobs/${'ab'.repeat(16)}`], ['GET', '/clear'], ['POST', '/clear'], ['POST', `/job/${'ab'.repeat(16)}/delete`]] as const) {
      for (const headers of [{}, { authorization: 'Bearer anything' }, { authorization: `Basic ${Buffer.from('operator:').toString('base64')}` }] as Array<Record<string, string>>) {
        const res = await fetch(`${env.IMG_PUBLIC_URL}${path}`, { method, headers: { accept: 'application/json', ...headers } });
        assert.equal(res.status, 503, `${method} ${path}`);
        const body = (await res.json()) as Json;
        assert.equal(body.error.code, 'operator_not_configured');
        assert.match(body.error.message, /IMG_OPERATOR_TOKEN/);
      }
    }
  } finally {
    await bare.stop();
  }
  for (const service of ['frontend', 'notifier']) {
    for (const secret of ['', 'too-short']) {
      const env2 = await stackEnv({ IMG_TOKEN_SECRET: secret });
      await assert.rejects(startService(service, env2, { readyTimeoutMs: 15_000 }), (err: Error) => {
        assert.match(err.message, /exited with 1/);
        assert.match(err.message, /IMG_TOKEN_SECRET: (required|too short)/);
        return true;
      }, `${service} with IMG_TOKEN_SECRET=${JSON.stringify(secret)}`);
    }
  }
});
