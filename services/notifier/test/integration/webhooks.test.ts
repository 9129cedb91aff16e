// Webhooks through the real services: exactly one signed post per outcome, through a receiver
// that is down when the job ends and an image-creator killed mid-build; a callback to a private
// address refused at submission; a name that rebinds to loopback after submission refused at send.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import dns2 from 'dns2';
import { Webhook } from 'standardwebhooks';
import { queues } from '@img/shared/broker';
import { freePort, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services = new Map<string, ServiceProcess>();
let dnsServer: { close(): Promise<void> } | undefined;
const open: Server[] = [];
/** What the test's DNS server answers for rebind.test: a public-looking address first, then loopback. */
let rebindTo = '198.51.100.7';

interface Post { headers: Record<string, string>; body: string }
interface ApiJob { id: string; status: string; phase: string; token: string; webhook_secret?: string; webhook_status?: { state: string; error?: string; attempts?: number } }

async function listen(host: string, port: number, posts: Post[]): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      posts.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  open.push(server);
  return server;
}

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  const dnsPort = await freePort();
  const { Packet } = dns2;
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      if (q && q.name === 'rebind.test' && q.type === Packet.TYPE.A) response.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 0, address: rebindTo } as never);
      send(response);
    },
  });
  await server.listen({ udp: { port: dnsPort, address: '127.0.0.1' } });
  dnsServer = server;
  env = await stackEnv({
    IMG_VERIFY_BOOT: 'false',
    // This test's receivers are on loopback: the operator allows 127.0.0.1 alone, and the names used here.
    IMG_WEBHOOK_HOSTS: '127.0.0.1,rebind.test,10.1.2.3,private.test',
    IMG_WEBHOOK_ALLOW_RANGES: '127.0.0.1/32',
    IMG_WEBHOOK_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    IMG_WEBHOOK_TIMEOUT_MS: '2000',
    IMG_WEBHOOK_RETRY_MAX_DELAY_S: '1',
  });
  for (const name of ['image-creator', 'notifier', 'frontend']) services.set(name, await startService(name, env, { readyTimeoutMs: 60_000 }));
});
after(async () => {
  await Promise.all([...services.values()].map((s) => s.stop()));
  await Promise.all(open.map((s) => new Promise((r) => s.close(r))));
  await dnsServer?.close();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

async function submit(kickstart: string, callback_url: string): Promise<{ status: number; body: ApiJob & { error?: { message: string; fields?: Array<{ field: string; message: string }> } } }> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('hook'), imagetype: 'tar', kickstart, callback_url }),
  });
  return { status: res.status, body: await res.json() as never };
}

async function job(j: ApiJob): Promise<ApiJob> {
  return (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${j.id}`, { headers: { authorization: `Bearer ${j.token}` } })).json()) as ApiJob;
}

test('a callback to a private address, a non-http URL or an unlisted host is refused at submission, naming the field', async () => {
  for (const [url, why] of [
    ['http://10.1.2.3/hook', /10\.1\.2\.3 is a private address/],
    ['http://127.0.0.2:8080/hook', /not on this IMG's allow-list/],
    ['ftp://127.0.0.1/hook', /must be http or https/],
    [`http://127.0.0.1/${'x'.repeat(2100)}`, /longer than 2048/],
  ] as const) {
    const r = await submit('%packages\nhostname\n%end\n', url);
    assert.equal(r.status, 400, url);
    const fields = r.body.error?.fields ?? [];
    assert.equal(fields[0]?.field, 'callback_url', JSON.stringify(r.body));
    assert.match(fields[0]!.message, why);
  }
});

test('one signed post per outcome, through a receiver that is down when the jobs end and an image-creator killed mid-build', async () => {
  const port = await freePort();
  const posts: Post[] = [];
  const ks = `%packages\nhostname\n%end\n%post\necho hook-${Date.now()} > /etc/hook\nsleep 8\n%end\n`;
  const { status, body: submitted } = await submit(ks, `http://127.0.0.1:${port}/hook`);
  assert.equal(status, 201, JSON.stringify(submitted));
  assert.match(submitted.webhook_secret ?? '', /^whsec_/);
  // A second job, to the same receiver, fails: its outcome is posted once too, under its own secret.
  const { body: failing } = await submit(`%packages\nhostname\n%end\n%post\necho ${Date.now()}\nfalse\n%end\n`, `http://127.0.0.1:${port}/hook`);

  // image-creator dies in the middle of the build; the next one builds the job again.
  await waitFor('the build to reach %post', async () => (await job(submitted)).phase === 'post', { timeoutMs: 300_000, intervalMs: 500 });
  await services.get('image-creator')!.kill();
  services.set('image-creator', await startService('image-creator', env, { readyTimeoutMs: 60_000 }));

  // The receiver is down when the job ends: the notifier tries again, and the job says so.
  const retrying = await waitFor('a failed post', async () => {
    const j = await job(submitted);
    return j.webhook_status?.state === 'retrying' ? j : undefined;
  }, { timeoutMs: 600_000, intervalMs: 500 });
  assert.equal(retrying.status, 'done');
  assert.match(retrying.webhook_status?.error ?? '', /ECONNREFUSED/);
  await waitFor('the failed job\'s post tried', async () => (await job(failing)).webhook_status?.state === 'retrying', { timeoutMs: 600_000, intervalMs: 500 });
  await listen('127.0.0.1', port, posts);
  await waitFor('both posts delivered', async () => (await job(submitted)).webhook_status?.state === 'delivered' && (await job(failing)).webhook_status?.state === 'delivered', { timeoutMs: 60_000, intervalMs: 250 });
  await queueDrained(queues.webhook, { timeoutMs: 30_000 });

  assert.equal(posts.length, 2, 'exactly one post per job outcome');
  const byId = new Map(posts.map((p) => [p.headers['webhook-id'], p]));
  const failedPost = byId.get(`${failing.id}:failed`)!;
  assert.ok(failedPost, 'the failure was posted');
  const failedPayload = new Webhook(failing.webhook_secret!).verify(failedPost.body, failedPost.headers) as { type: string; data: { status: string; error_code?: string } };
  assert.deepEqual([failedPayload.type, failedPayload.data.status, failedPayload.data.error_code], ['job.failed', 'failed', 'post_script_failed']);
  assert.throws(() => new Webhook(submitted.webhook_secret!).verify(failedPost.body, failedPost.headers), 'one job\'s secret does not verify another\'s post');
  const donePost = byId.get(`${submitted.id}:done`)!;
  assert.ok(donePost, 'the success was posted');
  const payload = new Webhook(submitted.webhook_secret!).verify(donePost.body, donePost.headers) as { type: string; data: { id: string; status: string; email: string; sha256?: string } };
  assert.equal(payload.type, 'job.done');
  assert.equal(payload.data.id, submitted.id);
  assert.equal(payload.data.status, 'done');
  assert.match(payload.data.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.match(payload.data.email, /^h\*\*\*@example\.com$/, 'the public JSON: the address masked');
});

test('a name that resolves to a public address at submission and to loopback at send time is refused then, and nothing reaches loopback', async () => {
  const port = await freePort();
  const inside: Post[] = [];
  let connections = 0;
  (await listen('127.0.0.3', port, inside)).on('connection', () => { connections++; });
  rebindTo = '198.51.100.7';
  const { status, body: submitted } = await submit('%packages\nhostname\n%end\n%post\nfalse\n%end\n', `http://rebind.test:${port}/hook`);
  assert.equal(status, 201, JSON.stringify(submitted));
  // After the submission was checked, the name moves to an address of this host.
  rebindTo = '127.0.0.3';
  const refused = await waitFor('the post refused', async () => {
    const j = await job(submitted);
    return j.webhook_status?.state === 'refused' ? j : undefined;
  }, { timeoutMs: 600_000, intervalMs: 500 });
  assert.equal(refused.status, 'failed');
  assert.match(refused.webhook_status?.error ?? '', /rebind\.test resolves to 127\.0\.0\.3, a loopback address/);
  assert.equal(refused.webhook_status?.attempts, 1, 'refused at once, not retried');
  assert.equal(connections, 0, 'no connection was made to the loopback address');
  assert.equal(inside.length, 0);
});
