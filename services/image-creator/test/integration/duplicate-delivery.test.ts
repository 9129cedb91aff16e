// One job's build message in the hands of two image-creators at once, as happens when a consumer's
// RabbitMQ node dies mid-build (the message goes back and another image-creator takes it while the
// first builds on) or when a publisher sends again after a lost confirm. The job is built once:
// the second delivery waits for the first's build and answers from it. One email, job done.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { queues, routes, type Broker } from '@img/shared/broker';
import { imageMessage } from '@img/shared/contracts';
import { sealJob } from '@img/shared/jobs';
import { connectTestBroker, mailsTo, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, testTokenSecret, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
const creators: ServiceProcess[] = [];
let notifier: ServiceProcess;
let broker: Broker;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '1' });
  // Both image-creators start before any build: each removes, on starting, the build containers it finds.
  for (const name of ['image-creator', 'image-creator', 'notifier', 'frontend']) {
    const s = await startService(name, env, { readyTimeoutMs: 60_000 });
    services.push(s);
    if (name === 'image-creator') creators.push(s);
    if (name === 'notifier') notifier = s;
  }
  broker = await connectTestBroker('duplicate-delivery-test');
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await broker?.close();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

const count = (msg: string, id: string) => creators.map((c) => c.output.filter((l) => l.includes(`"msg":"${msg}"`) && l.includes(id)).length);

test('a build message delivered to two image-creators at once is built once, and the job gets one email', async () => {
  const email = uniqueEmail('duplicate');
  const kickstart = `%packages\nhostname\n%end\n%post\necho duplicate-${Date.now()} > /etc/marker\n%end\n`;
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, imagetype: 'tar', kickstart }),
  });
  const job = (await res.json()) as { id: string; token: string };
  assert.equal(res.status, 201, JSON.stringify(job));
  // The frontend's message is with one image-creator; the same message again (sealed, as the frontend
  // seals it: image-creator builds nothing else) goes to the other.
  await waitFor('one image-creator to take the job', async () => count('build planned', job.id).some((n) => n > 0), { timeoutMs: 60_000 });
  await broker.publish(routes.build, imageMessage, { id: job.id, email, imagetype: 'tar', ksfile: kickstart, seal: sealJob(testTokenSecret, { id: job.id, email, imagetype: 'tar' }) });

  const status = await waitFor(`job ${job.id} to end`, async () => {
    const j = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: { accept: 'application/json', authorization: `Bearer ${job.token}` } })).json()) as { status: string; error?: string };
    return ['done', 'failed'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 10 * 60_000, intervalMs: 500 });
  // What each image-creator said of the job, to tell the deliveries apart when it did not end well.
  const said = () => creators.map((c, i) => c.output.filter((l) => l.includes(job.id)).map((l) => `[creator ${i}] ${l}`).join('\n')).join('\n');
  assert.equal(status.status, 'done', `${status.error}\n${said()}`);
  // Both deliveries handled, and the notifier has nothing left to send.
  await waitFor('the second delivery to be answered', async () => count('image already built, publishing its link again', job.id).concat(count('built by another delivery of this job; publishing its link', job.id)).some((n) => n > 0), { timeoutMs: 60_000 });
  await queueDrained(queues.image, { timeoutMs: 30_000 });
  // The link comes twice; the notifier's answer to the second is what the email count waits for.
  await waitFor('the notifier to have handled both links', async () => notifier.output.some((l) => l.includes('"msg":"already handled, not sending again"') && l.includes(job.id))
    || (await mailsTo(email)).length > 1, { timeoutMs: 60_000 });

  const built = count('image built', job.id);
  const waited = count('another delivery of this job is building it; waiting for it', job.id);
  assert.deepEqual([...built].sort(), [0, 1], `one image-creator built the job, the other did not: ${JSON.stringify(built)}`);
  assert.equal(waited[built.indexOf(0)], 1, 'the other waited for that build');
  assert.equal((await mailsTo(email)).length, 1, 'one email');
});
