// Fair shares: one client cannot take everyone's share of the queue or of the live streams. The
// caps are per email address and per client address; the test speaks from several loopback
// addresses (all of 127/8 is loopback on Linux), so the frontend sees distinct clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { rm } from 'node:fs/promises';
import { stackEnv, startService, uniqueEmail, waitFor } from '@img/shared/testing';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

const SHARE = 3;
let stack: FrontendStack | undefined;
let base: URL;

before(async () => {
  stack = await startFrontendStack('fair-share-test', { IMG_MAX_PENDING_PER_SUBMITTER: String(SHARE), IMG_MAX_STREAMS_PER_CLIENT: String(SHARE) });
  base = new URL(stack.base);
});
after(async () => {
  await stack?.stop();
});

interface Answer { status: number; body: { id?: string; token?: string; error?: { code: string; message: string } } & Record<string, unknown> }

function call(from: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest({
      host: base.hostname, port: base.port, path, method, localAddress: from,
      headers: { accept: 'application/json', ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let parsed: Answer['body'] = {};
        try {
          parsed = JSON.parse(text) as Answer['body'];
        } catch {
          // Not JSON: the status tells.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const submit = (from: string, email = uniqueEmail('share')) =>
  call(from, 'POST', '/api/v1/jobs', { email, imagetype: 'tar', kickstart: `%packages\nhostname\n%end\n%post\necho ${Math.random()}\n%end\n` });

test('one client address fills its share and is refused with a 429 naming the cap; another address still submits', async () => {
  const mine: Answer[] = [];
  for (let i = 0; i < SHARE; i++) mine.push(await submit('127.0.0.2'));
  assert.deepEqual(mine.map((a) => a.status), Array(SHARE).fill(201), JSON.stringify(mine.map((a) => a.body)));
  const refused = await submit('127.0.0.2');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error?.code, 'too_many_pending');
  assert.match(refused.body.error?.message ?? '', new RegExp(`your client address has ${SHARE} jobs waiting or building, and the limit per client address is ${SHARE}`));

  const other = await submit('127.0.0.3');
  assert.equal(other.status, 201, JSON.stringify(other.body));

  // A finished job frees its place.
  const first = mine[0]!.body;
  const cancelled = await call('127.0.0.2', 'POST', `/api/v1/jobs/${first.id}/cancel`, undefined, first.token ? { authorization: `Bearer ${first.token}` } : {});
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal((await submit('127.0.0.2')).status, 201);
  assert.equal((await submit('127.0.0.2')).status, 429);

  // The address is kept for the cap, never shown.
  const listed = await call('127.0.0.3', 'GET', '/api/v1/jobs?limit=100');
  assert.equal(listed.status, 200);
  const shown = JSON.stringify(listed.body);
  assert.ok(!shown.includes('"client"') && !shown.includes('127.0.0.2') && !shown.includes('127.0.0.3'), 'the queue shows no client address');
  const one = await call('127.0.0.2', 'GET', `/api/v1/jobs/${mine[1]!.body.id}`, undefined, mine[1]!.body.token ? { authorization: `Bearer ${mine[1]!.body.token}` } : {});
  assert.equal(one.status, 200);
  assert.equal(one.body.client, undefined, 'a job shows no client address');
});

test('one email address fills its share from several addresses; case and +tags do not make another submitter', async () => {
  const email = uniqueEmail('share-mail');
  const [local, domain] = email.split('@') as [string, string];
  const spellings = [email, `${local}+one@${domain}`, email.toUpperCase()];
  for (const [i, spelling] of spellings.entries()) assert.equal((await submit(`127.0.1.${i + 1}`, spelling)).status, 201);
  const refused = await submit('127.0.1.9', `${local}+two@${domain}`);
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error?.code, 'too_many_pending');
  assert.match(refused.body.error?.message ?? '', new RegExp(`your email address has ${SHARE} jobs waiting or building, and the limit per email address is ${SHARE}`));
  assert.equal((await submit('127.0.1.9')).status, 201, 'another email from the same address is taken');
});

test('a burst of parallel submissions from one address gets exactly its share', async () => {
  const answers = await Promise.all(Array.from({ length: 4 * SHARE }, () => submit('127.0.2.1')));
  const statuses = answers.map((a) => a.status).sort();
  assert.equal(statuses.filter((s) => s === 201).length, SHARE, statuses.join(' '));
  assert.equal(statuses.filter((s) => s === 429).length, 3 * SHARE, statuses.join(' '));
});

/** Opens a live stream from `from`; resolves with its status once the answer's head is in. */
function openStream(from: string, path = '/api/v1/queue/events'): Promise<{ status: number; body: string; req: ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path, localAddress: from, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode === 200) {
        res.resume();
        resolve({ status: 200, body: '', req });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, req }));
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
}

test('one client address holds its share of live streams, the next is refused with a 429; another address still gets one', async () => {
  const open: ClientRequest[] = [];
  try {
    for (let i = 0; i < SHARE; i++) {
      const s = await openStream('127.0.3.1');
      assert.equal(s.status, 200);
      open.push(s.req);
    }
    const refused = await openStream('127.0.3.1');
    assert.equal(refused.status, 429);
    const err = (JSON.parse(refused.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'too_many_streams');
    assert.match(err.message, new RegExp(`your client address has ${SHARE} live connections open, and the limit per client address is ${SHARE}`));

    const other = await openStream('127.0.3.2');
    assert.equal(other.status, 200, 'another client still gets a stream');
    open.push(other.req);

    // Closing one gives its place back.
    open.shift()!.destroy();
    const again = await waitFor('a place freed by a closed stream', async () => {
      const s = await openStream('127.0.3.1');
      if (s.status === 200) return s;
      return undefined;
    }, { timeoutMs: 5000, intervalMs: 100 });
    open.push(again.req);
  } finally {
    for (const r of open) r.destroy();
  }
});

test('behind a proxy (IMG_TRUST_PROXY) the share is the forwarded client\'s, and an IPv6 client\'s is its /64\'s', async () => {
  const env = await stackEnv({ IMG_TRUST_PROXY: '1', IMG_MAX_PENDING_PER_SUBMITTER: String(SHARE), IMG_SUBMIT_RATE_LIMIT: '1000' });
  const proxied = await startService('frontend', env);
  const saved = base;
  try {
    base = new URL(env.IMG_PUBLIC_URL);
    const via = (client: string) => call('127.0.0.1', 'POST', '/api/v1/jobs',
      { email: uniqueEmail('proxied'), imagetype: 'tar', kickstart: `%packages\nhostname\n%end\n%post\necho ${Math.random()}\n%end\n` },
      { 'x-forwarded-for': client });
    for (let i = 0; i < SHARE; i++) assert.equal((await via('203.0.113.5')).status, 201);
    assert.equal((await via('203.0.113.5')).status, 429);
    assert.equal((await via('203.0.113.6')).status, 201, 'another client behind the same proxy still submits');
    for (let i = 0; i < SHARE; i++) assert.equal((await via(`2001:db8:1:2::${i + 1}`)).status, 201);
    const sameNet = await via('2001:db8:1:2:ffff::9');
    assert.equal(sameNet.status, 429, 'another address of the same /64 is the same client');
    assert.equal((await via('2001:db8:1:3::1')).status, 201, 'another /64 is another client');
  } finally {
    base = saved;
    await proxied.stop();
    await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  }
});
