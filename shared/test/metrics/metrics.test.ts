// Every service's /metrics, scraped and read by Prometheus's own parser (not ours): the counters
// move with real jobs through the four services, and the histograms have their buckets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { queues } from '@img/shared/broker';
import amqp from 'amqplib';
import { purgeAllQueues, repoRoot, stackEnv, startService, testEnv, uniqueEmail, waitFor, type ServiceProcess } from '../../src/testing/index.ts';

const OPERATOR = 'metrics-test-operator-token-0123456789';
const PARSER = fileURLToPath(new URL('./parse-metrics.py', import.meta.url));
let env: Awaited<ReturnType<typeof stackEnv>>;
const services = new Map<string, ServiceProcess>();

interface Sample { family: string; type: string; name: string; labels: Record<string, string>; value: number }

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_OPERATOR_TOKEN: OPERATOR });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) services.set(name, await startService(name, env, { readyTimeoutMs: 60_000 }));
});
after(async () => {
  await Promise.all([...services.values()].map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

async function scrape(service: string): Promise<Sample[]> {
  const url = service === 'frontend' ? `${env.IMG_PUBLIC_URL}/metrics` : services.get(service)?.metricsUrl;
  assert.ok(url, `${service} said where its metrics are`);
  const res = await fetch(url, { headers: service === 'frontend' ? { authorization: `Bearer ${OPERATOR}` } : {} });
  assert.equal(res.status, 200, `${service} /metrics`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // /usr/bin/python3: Debian's interpreter, which has Debian's python3-prometheus-client.
  return JSON.parse(execFileSync('/usr/bin/python3', [PARSER], { input: text, encoding: 'utf8' })) as Sample[];
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

function assertHistogram(samples: Sample[], family: string, labels: Record<string, string>) {
  const buckets = samples.filter((s) => s.name === `${family}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(buckets.length >= 5, `${family} has its buckets`);
  assert.ok(buckets.some((b) => b.labels.le === '+Inf'), `${family} has a +Inf bucket`);
  const count = value(samples, `${family}_count`, labels);
  assert.equal(buckets.find((b) => b.labels.le === '+Inf')!.value, count, `${family}: +Inf bucket equals the count`);
  // Cumulative buckets never decrease.
  const sorted = buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), v: b.value })).sort((a, b) => a.le - b.le);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.v >= sorted[i - 1]!.v, `${family} buckets are cumulative`);
}

async function submit(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { id: string; token: string };
  assert.equal(res.status, 201, JSON.stringify(json));
  return json;
}

async function finished(job: { id: string; token: string }): Promise<{ status: string; email_status?: { state: string } }> {
  return waitFor(`job ${job.id} and its email`, async () => {
    const j = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${job.token}` } })).json()) as { status: string; email_status?: { state: string } };
    return ['done', 'failed'].includes(j.status) && j.email_status?.state === 'sent' ? j : undefined;
  }, { timeoutMs: 600_000, intervalMs: 500 });
}

test('the metrics of every service are Prometheus text, and the process figures are there', async () => {
  for (const name of services.keys()) {
    const s = await scrape(name);
    assert.ok(value(s, 'process_cpu_seconds_total') > 0, `${name}: process CPU`);
    assert.ok(s.every((x) => x.labels.service === name), `${name}: every sample names its service`);
  }
  // The frontend's metrics are the operator's.
  assert.equal((await fetch(`${env.IMG_PUBLIC_URL}/metrics`)).status, 401);
});

test('a template job that builds and a kickstart that fails move the counters, and the histograms have buckets', async () => {
  const before = Object.fromEntries(await Promise.all([...services.keys()].map(async (n) => [n, await scrape(n)] as const)));
  const bad = await submit({ email: uniqueEmail('metrics-bad'), imagetype: 'tar', kickstart: `%packages\nhostname\n%end\n%post\necho ${Date.now()}\nfalse\n%end\n` });
  const tpl = await submit({ email: uniqueEmail('metrics-tpl'), imagetype: 'tar', platform: 'MINIMAL', overlay: `-nano` });
  assert.equal((await finished(tpl)).status, 'done');
  assert.equal((await finished(bad)).status, 'failed');
  // A message that is not JSON is dead-lettered by image-creator.
  const conn = await amqp.connect(testEnv.amqpUrl);
  const ch = await conn.createConfirmChannel();
  ch.sendToQueue(queues.image, Buffer.from('not json'), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
  await waitFor('the dead letter counted', async () => value(await scrape('image-creator'), 'img_messages_dead_lettered_total', { queue: 'image_queue', reason: 'not_json' }) >= 1, { timeoutMs: 30_000 });

  const after = Object.fromEntries(await Promise.all([...services.keys()].map(async (n) => [n, await scrape(n)] as const)));
  const moved = (service: string, name: string, labels: Record<string, string> = {}) => value(after[service]!, name, labels) - value(before[service]!, name, labels);

  assert.equal(moved('frontend', 'img_submissions_total', { source: 'kickstart', type: 'tar' }), 1);
  assert.equal(moved('frontend', 'img_submissions_total', { source: 'template', type: 'tar' }), 1);
  assert.ok(value(after.frontend!, 'img_jobs', { state: 'done' }) >= 1);
  assert.ok(value(after.frontend!, 'img_jobs', { state: 'failed' }) >= 1);
  assert.ok(moved('frontend', 'img_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/jobs', code: '201' }) >= 2);
  assertHistogram(after.frontend!, 'img_http_request_duration_seconds', { method: 'POST', route: '/api/v1/jobs', code: '201' });
  assert.ok(after.frontend!.every((s) => !/[0-9a-f]{32}/.test(s.labels.route ?? '')), 'no job id in a route label');

  assert.equal(moved('kickstarter', 'img_kickstarts_total', { result: 'ok' }), 1);

  assert.equal(moved('image-creator', 'img_builds_total', { type: 'tar', arch: 'amd64', outcome: 'done' }), 1);
  assert.equal(moved('image-creator', 'img_builds_total', { type: 'tar', arch: 'amd64', outcome: 'failed' }), 1);
  assert.equal(moved('image-creator', 'img_build_failures_total', { code: 'post_script_failed', phase: 'post' }), 1);
  assert.equal(moved('image-creator', 'img_build_duration_seconds_count', { type: 'tar', arch: 'amd64' }), 1, 'only a finished build has a build time');
  assertHistogram(after['image-creator']!, 'img_build_duration_seconds', { type: 'tar', arch: 'amd64' });
  assert.equal(moved('image-creator', 'img_queue_wait_seconds_count', { type: 'tar', arch: 'amd64' }), 2);
  assertHistogram(after['image-creator']!, 'img_queue_wait_seconds', { type: 'tar', arch: 'amd64' });
  for (const phase of ['fetching', 'installing', 'assembling']) assert.ok(moved('image-creator', 'img_build_phase_duration_seconds_count', { phase }) >= 1, `phase ${phase} timed`);
  assert.equal(moved('image-creator', 'img_cache_lookups_total', { cache: 'image', result: 'miss' }), 2);

  assert.equal(moved('notifier', 'img_emails_total', { outcome: 'done', state: 'sent' }), 1);
  assert.equal(moved('notifier', 'img_emails_total', { outcome: 'failed', state: 'sent' }), 1);
  for (const name of services.keys()) assert.equal(value(after[name]!, 'img_broker_reconnects_total'), 0, `${name}: no reconnect`);
});
