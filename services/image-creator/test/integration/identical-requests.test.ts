// Identical requests are built once: a repeat of a finished request is answered at once from its
// image, and requests arriving together share one build. Through the four real services.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mongoose';
import { queues, routes, type Broker } from '@img/shared/broker';
import { imageMessage } from '@img/shared/contracts';
import { sealJob } from '@img/shared/jobs';
import { connectTestBroker, connectTestDatabase, mailsTo, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, testTokenSecret, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let creator: ServiceProcess;
let db: Connection;
let broker: Broker;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '2' });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) {
    const s = await startService(name, env, { readyTimeoutMs: 60_000 });
    services.push(s);
    if (name === 'image-creator') creator = s;
  }
  db = await connectTestDatabase();
  broker = await connectTestBroker('identical-test');
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await broker?.close();
  await db?.close();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

interface ApiJob { id: string; status: string; sha256?: string; size?: number; error?: string; email_status?: { state: string } }

/** Each job's token, from its submission: the frontend shows a job in full only with it. */
const tokens = new Map<string, string>();
const owner = (id: string) => ({ authorization: `Bearer ${tokens.get(id) ?? ''}` });

async function submit(kickstart: string, email = uniqueEmail('same')): Promise<{ id: string; email: string; at: number }> {
  const at = Date.now();
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, imagetype: 'tar', kickstart }),
  });
  const body = (await res.json()) as ApiJob & { token: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  tokens.set(body.id, body.token);
  return { id: body.id, email, at };
}

async function job(id: string): Promise<ApiJob> {
  return (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', ...owner(id) } })).json()) as ApiJob;
}

async function finished(id: string): Promise<ApiJob & { at: number }> {
  return waitFor(`job ${id}`, async () => {
    const j = await job(id);
    return ['done', 'failed'].includes(j.status) ? { ...j, at: Date.now() } : undefined;
  }, { timeoutMs: 300_000, intervalMs: 100 });
}

/** How many builds image-creator ran for these jobs (its "image built" log lines). */
function builtBy(ids: string[]): number {
  return creator.output.filter((l) => l.includes('"msg":"image built"') && ids.some((id) => l.includes(id))).length;
}

test('a repeat of a finished request is answered from its image in seconds, without a build, and emailed', async () => {
  const marker = `same-${Date.now()}`;
  const ks = `%packages\nhostname\n%end\n%post\necho ${marker} > /etc/marker\n%end\n`;
  const first = await submit(ks);
  const a = await finished(first.id);
  assert.equal(a.status, 'done', a.error);
  // The same request written differently: comments and blank lines do not make it another request.
  const second = await submit(`# again\n\n${ks}`);
  const b = await finished(second.id);
  assert.equal(b.status, 'done');
  assert.equal(b.sha256, a.sha256);
  assert.equal(b.size, a.size);
  assert.equal(builtBy([first.id, second.id]), 1, 'built once');
  const download = await fetch(`${env.IMG_PUBLIC_URL}/images/${second.id}`, { headers: owner(second.id) });
  assert.equal(download.status, 200);
  assert.equal(Number(download.headers.get('content-length')), a.size);
  await download.body?.cancel();
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${second.id}/log`, { headers: owner(second.id) })).text();
  assert.match(log, /identical to an earlier build/);
  assert.doesNotMatch(log, new RegExp(first.id), 'the earlier job is not named');
  await waitFor('the email of the repeat recorded as sent', async () => (await job(second.id)).email_status?.state === 'sent', { timeoutMs: 30_000 });
  await queueDrained(queues.notify, { timeoutMs: 30_000 });
  assert.equal((await mailsTo(second.email)).length, 1, 'one email');
});

test('identical requests arriving together share one build', async () => {
  const ks = `%packages\nhostname\n%end\n%post\necho together-${Date.now()} > /etc/marker\n%end\n`;
  const jobs = await Promise.all([submit(ks), submit(ks)]);
  const [a, b] = await Promise.all(jobs.map((j) => finished(j.id)));
  assert.equal(a!.status, 'done', a!.error);
  assert.equal(b!.status, 'done', b!.error);
  assert.equal(a!.sha256, b!.sha256);
  assert.equal(builtBy(jobs.map((j) => j.id)), 1, 'built once');
});

test('a finished build whose claim was left "building" (the database failed as it finished) is completed by the redelivery; the next identical request is answered from it', async () => {
  const ks = `%packages\nhostname\n%end\n%post\necho claim-${Date.now()} > /etc/marker\n%end\n`;
  const first = await submit(ks);
  assert.equal((await finished(first.id)).status, 'done');
  const builds = db.collection<{ _id: string; job: string; state: string }>('builds');
  const claim = await waitFor('the build record', () => builds.findOne({ job: first.id, state: 'done' }), { timeoutMs: 10_000 });
  // What the fault left: result.json written, the claim never completed, its builder still beating.
  await builds.replaceOne({ _id: claim._id }, { _id: claim._id, job: first.id, state: 'building', started: new Date(), beat: new Date() } as never);
  // RabbitMQ delivers the unacked message again.
  await broker.publish(routes.build, imageMessage, { id: first.id, email: first.email, imagetype: 'tar', ksfile: ks, seal: sealJob(testTokenSecret, { id: first.id, email: first.email, imagetype: 'tar' }) });
  await waitFor('the claim completed from the earlier result', async () => (await builds.findOne({ _id: claim._id }))?.state === 'done', { timeoutMs: 60_000 });

  const second = await submit(ks);
  assert.equal((await finished(second.id)).status, 'done');
  assert.equal(builtBy([first.id, second.id]), 1, 'answered from the first build, not built again');
});
