// Webhook posts against receivers on this host's loopback: which addresses are refused, redirects
// that would lead to one, a receiver that never answers, and signatures checked by the Standard
// Webhooks reference library (not by our own code).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { AddressPolicy, callbackUrlProblem, checkCallbackUrl, postWebhook, signatureHeaders, webhookSecret, WebhookSendError } from '../../../src/webhooks/index.ts';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

/** A receiver on `host`: answers with `answer`, counts what reaches it. */
async function receiver(host: string, answer: (path: string) => { status: number; location?: string } | 'hang') {
  const seen: Array<{ path: string; headers: Record<string, string | string[] | undefined>; body: string }> = [];
  let connections = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const a = answer(req.url ?? '');
      if (a === 'hang') return;
      res.writeHead(a.status, a.location ? { location: a.location } : {}).end();
    });
  });
  server.on('connection', (s) => { connections++; s.unref(); });
  await new Promise<void>((r) => server.listen(0, host, r));
  servers.push(server);
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, seen, connections: () => connections };
}

const loopbackOnly = new AddressPolicy({ allowRanges: ['127.0.0.1/32'] });
const opts = { policy: loopbackOnly, hosts: ['127.0.0.1', '127.0.0.3'], timeoutMs: 1000 };

test('loopback, link-local, private and mapped addresses are refused unless allowed', () => {
  const none = new AddressPolicy({ allowRanges: [] });
  for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1']) {
    assert.ok(none.refusal(a), `${a} refused`);
  }
  for (const a of ['93.184.216.34', '2606:2800:220:1::1', '198.51.100.7']) assert.equal(none.refusal(a), undefined, `${a} allowed`);
  assert.equal(loopbackOnly.refusal('127.0.0.1'), undefined, 'the operator allowed it');
  assert.match(loopbackOnly.refusal('127.0.0.2') ?? '', /loopback/);
  assert.match(none.refusal('169.254.169.254') ?? '', /link-local/);
});

test('a callback URL must be http(s), short, without credentials and on the allow-list', async () => {
  assert.match(callbackUrlProblem('ftp://127.0.0.1/x', ['*']) ?? '', /http or https/);
  assert.match(callbackUrlProblem(`http://127.0.0.1/${'a'.repeat(3000)}`, ['*']) ?? '', /longer than 2048/);
  assert.match(callbackUrlProblem('http://u:p@127.0.0.1/', ['*']) ?? '', /user name or password/);
  assert.match(callbackUrlProblem('https://hooks.example.org/', ['ci.example.org']) ?? '', /not on this IMG's allow-list/);
  assert.equal(callbackUrlProblem('https://a.ci.example.org/', ['*.ci.example.org']), undefined);
  assert.match(callbackUrlProblem('https://ci.example.org/', []) ?? '', /does not send webhooks/);
  assert.match(await checkCallbackUrl('http://10.0.0.5/hook', { hosts: ['*'], policy: loopbackOnly }) ?? '', /refused: 10\.0\.0\.5 is a private address/);
  assert.equal(await checkCallbackUrl('http://127.0.0.1:9/hook', { hosts: ['*'], policy: loopbackOnly }), undefined);
});

test('a signed post verifies with the Standard Webhooks reference library', async () => {
  const r = await receiver('127.0.0.1', () => ({ status: 204 }));
  const secret = webhookSecret('server-secret', 'a'.repeat(32));
  const body = JSON.stringify({ type: 'job.done', data: { id: 'a'.repeat(32) } });
  assert.equal(await postWebhook(`${r.url}/hook`, body, signatureHeaders(secret, 'msg-1', body), opts), 204);
  const got = r.seen[0]!;
  const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
  assert.deepEqual(new Webhook(secret).verify(got.body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(webhookSecret('server-secret', 'b'.repeat(32))).verify(got.body, headers), 'another job\'s secret does not verify it');
  assert.throws(() => new Webhook(secret).verify(got.body.replace('done', 'fail'), headers), 'a changed body does not verify');
});

test('a redirect to a refused address is not followed; one to an allowed URL is', async () => {
  const inside = await receiver('127.0.0.3', () => ({ status: 200 }));
  const r = await receiver('127.0.0.1', (path) => (path === '/away' ? { status: 307, location: `${inside.url}/steal` } : path === '/moved' ? { status: 308, location: '/final' } : { status: 200 }));
  await assert.rejects(postWebhook(`${r.url}/away`, '{}', {}, opts), (e: Error) => e instanceof WebhookSendError && /refused: 127\.0\.0\.3 is a loopback address/.test(e.message));
  assert.equal(inside.connections(), 0, 'nothing reached the refused address');
  assert.equal(await postWebhook(`${r.url}/moved`, '{"a":1}', {}, opts), 200);
  assert.deepEqual(r.seen.map((s) => [s.path, s.body]), [['/away', '{}'], ['/moved', '{"a":1}'], ['/final', '{"a":1}']]);
});

test('a receiver that never answers is cut off at the timeout', async () => {
  const r = await receiver('127.0.0.1', () => 'hang');
  await assert.rejects(postWebhook(`${r.url}/slow`, '{}', {}, { ...opts, timeoutMs: 300 }), /no answer within 300 ms/);
});

test('an answer other than 2xx is a failed post, with its status', async () => {
  const r = await receiver('127.0.0.1', () => ({ status: 503 }));
  await assert.rejects(postWebhook(`${r.url}/x`, '{}', {}, opts), (e: Error) => e instanceof WebhookSendError && e.status === 503);
});
