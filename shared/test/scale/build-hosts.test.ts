// Several build hosts that share nothing but the broker, the database and the object store: two
// image-creators, each in a network namespace of its own with a data directory of its own, reach
// RabbitMQ, the database and the store only over their veth (build-hosts.ts). The frontend, the
// kickstarter and the notifier run on the machine. One host is killed (SIGKILL) in the middle of a
// build: the other builds the job again, once; the live log followed from the start goes on across
// the two attempts at the same offsets; the download works; exactly one email; no container is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { queues } from '@img/shared/broker';
import {
  mailsTo, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, tempDir, testEnv, testS3Storage, uniqueEmail, waitFor, type ServiceProcess,
} from '@img/shared/testing';
import { BuildHosts, type BuildHost } from './build-hosts.ts';
import { download, finished, followLog, jobOf, submit, type SubmittedJob } from './support.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let store: Awaited<ReturnType<typeof testS3Storage>>;
let hosts: BuildHosts;
const machine: ServiceProcess[] = [];
const creators = new Map<string, { host: BuildHost; proc: ServiceProcess }>();
const dirs: string[] = [];

const url = (u: string) => new URL(u);
const amqp = url(testEnv.amqpUrl);
const mongo = url(testEnv.mongoUrl);
const s3 = url(testEnv.s3Endpoint);

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  store = await testS3Storage();
  env = await stackEnv({ ...store.env, IMG_BUILD_TIMEOUT_S: '600', IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '1' });
  hosts = new BuildHosts([
    { name: 'rabbitmq', port: 5672, target: { host: amqp.hostname, port: Number(amqp.port || 5672) } },
    { name: 'database', port: 27017, target: { host: mongo.hostname, port: Number(mongo.port || 27017) } },
    { name: 'store', port: 8333, target: { host: s3.hostname, port: Number(s3.port || 80) } },
  ]);
  await hosts.create(2);
  for (const name of ['kickstarter', 'notifier', 'frontend']) {
    const dir = await tempDir(`img-${name}-`);
    dirs.push(dir);
    machine.push(await startService(name, { ...env, IMG_DATA_DIR: dir }, { readyTimeoutMs: 60_000 }));
  }
  for (const h of hosts.hosts) creators.set(h.name, { host: h, proc: await startCreator(h) });
});

after(async () => {
  await Promise.all([...machine, ...[...creators.values()].map((c) => c.proc)].map((p) => p.stop()));
  await hosts?.destroy();
  await store?.drop();
  for (const d of [...dirs, env?.IMG_DATA_DIR]) if (d) await rm(d, { recursive: true, force: true });
});

/** An image-creator on a build host: the broker, the database and the store at the host's gateway. */
function startCreator(h: BuildHost): Promise<ServiceProcess> {
  const at = (u: URL, port: number) => { const c = new URL(u); c.hostname = h.gateway; c.port = String(port); return c.toString().replace(/\/$/, ''); };
  return startService('image-creator', {
    ...env,
    IMG_DATA_DIR: h.dataDir,
    IMG_AMQP_URL: at(amqp, 5672),
    IMG_MONGO_URL: at(mongo, 27017),
    IMG_S3_ENDPOINT: at(s3, 8333),
    IMG_METRICS_HOST: '127.0.0.1',
  }, { readyTimeoutMs: 90_000, prefix: h.exec });
}

function containersOf(id: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=img.job=${id}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

/** Which host's image-creator started a build container for the job, in the order they did. */
function builders(id: string): string[] {
  return [...creators.entries()].flatMap(([name, c]) => c.proc.output.filter((l) => l.includes('"msg":"build container started"') && l.includes(id)).map(() => name));
}

test('each build host reaches the broker, the database and the store only over its veth', async () => {
  for (const h of hosts.hosts) {
    assert.equal(hosts.reaches(h, '127.0.0.1', Number(amqp.port || 5672)), false, `${h.name} has no RabbitMQ on its own loopback`);
    assert.equal(hosts.reaches(h, '127.0.0.1', 8080), false);
    assert.equal(hosts.reaches(h, h.gateway, 5672), true);
    // Connected and consuming, through the relays only.
    for (const service of ['rabbitmq', 'database', 'store']) assert.ok((h.connections[service] ?? 0) > 0, `${h.name} connected to the ${service} over its veth`);
  }
});

test('a build host killed mid-build: the other builds the job, once; live log, download and one email work; no container is left', async () => {
  const base = env.IMG_PUBLIC_URL;
  const email = uniqueEmail('hosts');
  const slow = ['%packages', 'hostname', '%end', '%post', 'for i in $(seq 1 25); do echo "slow step $i"; sleep 1; done', 'echo built > /etc/img-hosts', '%end', ''].join('\n');
  const job = await submit(base, email, slow);
  // Jobs for the other host too, so both build while it runs.
  const others: SubmittedJob[] = [];
  for (let i = 0; i < 3; i++) others.push(await submit(base, uniqueEmail('hosts-other'), `%packages\nhostname\n%end\n%post\necho other ${i} ${Date.now()} > /etc/other\n%end\n`));

  const following = followLog(base, job, 15 * 60_000);
  const first = await waitFor('the slow build to reach its %post', async () => {
    const who = builders(job.id)[0];
    const log = await (await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=0&max=1048576`, { headers: { authorization: `Bearer ${job.token}` } })).text();
    return who && /slow step 3/.test(log) ? who : undefined;
  }, { timeoutMs: 10 * 60_000, intervalMs: 500 });
  const victim = creators.get(first)!;
  assert.equal(containersOf(job.id).length, 1);
  await victim.proc.kill();

  const done = await finished(base, job, 15 * 60_000);
  assert.equal(done.status, 'done', done.error);
  const log = await following;
  const whole = await (await fetch(`${base}/job/${job.id}/log?token=${job.token}`)).text();
  assert.equal(log.text, whole, 'the log followed by offsets across both attempts is the stored log');
  assert.match(whole, /attempt 1,[\s\S]*slow step 3[\s\S]*attempt 2,[\s\S]*slow step 25/, 'both attempts, in order');
  const order = builders(job.id);
  assert.equal(order.length, 2, `started twice: ${order.join(', ')}`);
  assert.notEqual(order[1], first, 'the second attempt ran on the other host');

  const got = await download(base, job);
  assert.equal(got.status, 200);
  assert.equal(createHash('sha256').update(got.body).digest('hex'), done.sha256);

  const all = [job, ...others];
  for (const j of others) assert.equal((await finished(base, j, 15 * 60_000)).status, 'done');
  for (const j of all) await waitFor(`the email of ${j.id}`, async () => (await jobOf(base, j)).email_status?.state === 'sent', { timeoutMs: 60_000 });
  await queueDrained(queues.notify, { timeoutMs: 30_000 });
  const emails = await Promise.all(all.map((j) => mailsTo(j.email)));
  const counts = { jobs: all.length, done: 0, emailsPerJob: emails.map((m) => m.length), duplicates: 0 };
  for (const j of all) if ((await jobOf(base, j)).status === 'done') counts.done++;
  counts.duplicates = emails.reduce((n, m) => n + Math.max(0, m.length - 1), 0);
  const survivor = [...creators.keys()].find((n) => n !== first)!;
  const perHost = Object.fromEntries([...creators.keys()].map((n) => [n, all.filter((j) => builders(j.id).includes(n)).length]));
  process.stdout.write(`# build hosts: ${JSON.stringify({ ...counts, killed: first, survivor, builtPerHost: perHost })}\n`);
  assert.deepEqual(counts.emailsPerJob, all.map(() => 1), 'exactly one email per job');
  assert.equal(counts.done, all.length);
  for (const j of all) assert.deepEqual(containersOf(j.id), [], `no container of ${j.id} is left`);
  assert.ok(Object.values(perHost).every((n) => n > 0), `both hosts built: ${JSON.stringify(perHost)}`);
});
