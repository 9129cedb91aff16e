// Issue 15, point 5, through the four real services: IMG on a RabbitMQ cluster of three nodes of the
// test's own (fixtures/rabbit-cluster.ts), every service given the three addresses. While jobs flow,
// one building and others queued, the node that leads the queues (and holds every service's
// connection) is killed with SIGKILL. Every job must end done, with one email each and one build each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import mongoose from 'mongoose';
import { queues } from '../../src/broker/index.ts';
import { redactUrl } from '../../src/logging/index.ts';
import { mailsTo, repoRoot, stackEnv, startService, testEnv, uniqueEmail, waitFor, type ServiceProcess } from '../../src/testing/index.ts';
import { startRabbitCluster, type RabbitCluster } from './fixtures/rabbit-cluster.ts';
import type { RabbitNode } from './fixtures/rabbit-node.ts';

const SERVICES = ['kickstarter', 'image-creator', 'notifier', 'frontend'] as const;
const BEFORE_KILL = 5;
const DURING_FAILOVER = 2;

let cluster: RabbitCluster;
let env: Awaited<ReturnType<typeof stackEnv>>;
const services: Partial<Record<(typeof SERVICES)[number], ServiceProcess>> = {};
// A database of its own: these jobs are counted, and dropped afterwards.
const mongoUrl = testEnv.mongoUrl.replace(/\/([^/?]*)(\?|$)/, '/$1_cluster_jobs$2');

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  cluster = await startRabbitCluster();
  env = await stackEnv({
    // The cluster's three nodes: every service starts on the first and moves on when it goes.
    IMG_AMQP_URL: cluster.urls.join(','),
    IMG_MONGO_URL: mongoUrl,
    IMG_BUILD_CONCURRENCY: '1',
    IMG_VERIFY_BOOT: 'false',
  });
  for (const name of SERVICES) services[name] = await startService(name, env, { readyTimeoutMs: 90_000 });
});

after(async () => {
  await Promise.all(Object.values(services).map((s) => s.stop()));
  await cluster?.stop();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  const conn = await mongoose.createConnection(mongoUrl).asPromise().catch(() => undefined);
  await conn?.dropDatabase().catch(() => {});
  await conn?.close();
});

interface Submitted { id: string; token: string; email: string }
interface ApiJob { status: string; error?: string }

async function submit(tag: string): Promise<Submitted> {
  const email = uniqueEmail(`cluster-${tag}`);
  // The same packages as every other job (the cached root file system serves them all), and a
  // %post of its own, so no two jobs are identical requests sharing one build.
  const kickstart = `%packages\nhostname\n%end\n\n%post\necho ${tag}-${Date.now()} > /etc/img-cluster-test\n%end\n`;
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, imagetype: 'tar', kickstart }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, `job ${tag} accepted: ${text}`);
  const body = JSON.parse(text) as { id: string; token: string };
  return { id: body.id, token: body.token, email };
}

async function jobState(job: Submitted): Promise<ApiJob> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: { accept: 'application/json', authorization: `Bearer ${job.token}` } });
  return (await res.json()) as ApiJob;
}

/** Which node a service's connection is on, as its last 'connected to RabbitMQ' line says. */
function nodeOf(service: ServiceProcess): RabbitNode | undefined {
  const line = service.output.filter((l) => l.includes('"msg":"connected to RabbitMQ"')).at(-1);
  const url = line ? (JSON.parse(line) as { url: string }).url : undefined;
  return cluster.nodes.find((n) => redactUrl(n.url) === url);
}

/** Messages in a queue, ready and unacked, as a node of the cluster counts them. */
async function queueDepths(from: RabbitNode): Promise<Record<string, number>> {
  const rows = JSON.parse(await from.ctl('list_queues', 'name', 'messages', '--formatter', 'json')) as Array<{ name: string; messages: number }>;
  return Object.fromEntries(rows.map((r) => [r.name, r.messages]));
}

function lines(name: (typeof SERVICES)[number], msg: string, id?: string): number {
  return services[name]!.output.filter((l) => l.includes(`"msg":"${msg}"`) && (!id || l.includes(id))).length;
}

test('the node that leads the queues dies while jobs flow: every job is done, with one email and one build each', async () => {
  const leaderName = (await cluster.quorum(queues.image)).leader;
  const leader = cluster.nodes.find((n) => n.name === leaderName)!;
  assert.equal(leader, cluster.nodes[0], 'the first node leads image_queue (the services declared it there)');
  for (const name of SERVICES) assert.equal(nodeOf(services[name]!), leader, `${name} is connected to the leader`);

  const jobs: Submitted[] = [];
  for (let i = 1; i <= BEFORE_KILL; i++) jobs.push(await submit(`before-${i}`));
  // Jobs flowing: the first building, the rest waiting in image_queue on the node about to die.
  await waitFor('the first job to be building', async () => (await jobState(jobs[0]!)).status === 'building', { timeoutMs: 120_000, intervalMs: 250 });
  const conn = await amqp.connect(leader.url);
  try {
    const queued = (await (await conn.createChannel()).checkQueue(queues.image)).messageCount;
    assert.ok(queued >= 2, `jobs are waiting in image_queue (${queued})`);
  } finally {
    await conn.close();
  }
  await leader.kill();
  assert.equal(lines('image-creator', 'image built'), 0, 'the first build was still running when its node died');
  const survivor = cluster.nodes[1]!;
  // Submitted while the services find another node: the frontend's publishes wait for it.
  for (let i = 1; i <= DURING_FAILOVER; i++) jobs.push(await submit(`failover-${i}`));

  for (const name of SERVICES) {
    await waitFor(`${name} to reconnect to a surviving node`, async () => {
      const at = nodeOf(services[name]!);
      return at !== undefined && at !== leader;
    }, { timeoutMs: 60_000 });
  }
  const newLeader = (await cluster.quorum(queues.image, survivor)).leader;
  assert.notEqual(newLeader, leader.name, 'a surviving node leads image_queue');

  const ended = await Promise.all(jobs.map((job) => waitFor(`job ${job.id} to end`, async () => {
    const j = await jobState(job);
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 20 * 60_000, intervalMs: 1000 })));
  // Nothing left in flight anywhere (ready or unacked), so no late email or build can still come.
  await waitFor('every queue on the cluster to be empty', async () => {
    const depths = await queueDepths(survivor);
    return [...Object.values(queues)].every((q) => (depths[q] ?? 0) === 0);
  }, { timeoutMs: 120_000, intervalMs: 500 });
  await waitFor('an email for every job', async () => {
    for (const job of jobs) if ((await mailsTo(job.email)).length === 0) return false;
    return true;
  }, { timeoutMs: 60_000, intervalMs: 500 });

  const emails = await Promise.all(jobs.map(async (job) => (await mailsTo(job.email)).length));
  const builds = jobs.map((job) => lines('image-creator', 'image built', job.id));
  // What came twice and was taken in stride: deliveries that waited for or answered from the
  // build already made, publishes sent again after a lost confirm, notifications already sent.
  const duplicates = {
    waitedForOwnBuild: lines('image-creator', 'this job is still being built here; the new delivery waits for it')
      + lines('image-creator', 'another delivery of this job is building it; waiting for it'),
    answeredFromResult: lines('image-creator', 'image already built, publishing its link again')
      + lines('image-creator', 'built by another delivery of this job; publishing its link'),
    republished: SERVICES.reduce((n, s) => n + lines(s, 'connection lost before RabbitMQ confirmed the message; publishing it again'), 0),
    emailsNotSentAgain: lines('notifier', 'already handled, not sending again'),
  };
  const report = {
    jobs: jobs.length,
    done: ended.filter((j) => j.status === 'done').length,
    emailsPerJob: emails,
    buildsPerJob: builds,
    duplicateBuilds: builds.reduce((n, b) => n + Math.max(0, b - 1), 0),
    duplicateEmails: emails.reduce((n, e) => n + Math.max(0, e - 1), 0),
    duplicatesAbsorbed: duplicates,
    killed: leader.name,
    newLeader,
  };
  process.stderr.write(`cluster failover: ${JSON.stringify(report)}\n`);

  assert.deepEqual(ended.map((j) => j.status), jobs.map(() => 'done'), `every job done: ${JSON.stringify(ended)}`);
  assert.deepEqual(emails, jobs.map(() => 1), 'one email per job');
  assert.deepEqual(builds, jobs.map(() => 1), 'one build per job');
  // The job that was building when its node died came back to image-creator, which waited for
  // its own build, or answered from it, instead of starting another.
  assert.ok(duplicates.waitedForOwnBuild + duplicates.answeredFromResult >= 1, 'the building job\'s delivery came again');
});
