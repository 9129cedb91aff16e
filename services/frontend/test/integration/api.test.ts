// Every /api/v1 route against the real frontend process, RabbitMQ and the database, with its
// error paths. Builds are not run here: what image-creator would report (progress, the image,
// a failure) is published on the broker as image-creator publishes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { exchanges, queues, routes, type Broker } from '@img/shared/broker';
import { errorMessage, imageTypes, linkMessage, resultMessage, type LinkMessage } from '@img/shared/contracts';
import { isSealedNotify } from '@img/shared/jobs';
import { LiveLogWriter } from '@img/shared/live-log';
import { purgeAllQueues, stackEnv, testEnv, testLogger, testTokenSecret, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { readEvents, wipeJobs } from '../support/http.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

const TOKEN = 'operator-token-for-tests';
let env: Awaited<ReturnType<typeof stackEnv>>;
let frontend: ServiceProcess;
let broker: Broker;
let base: string;

let stack: FrontendStack | undefined;
before(async () => {
  stack = await startFrontendStack('api-test', { IMG_OPERATOR_TOKEN: TOKEN, IMG_MAX_UPLOAD_BYTES: '4096' });
  ({ env, base, frontend, broker } = stack);
});
after(async () => {
  await stack?.stop();
});

const goodKs = '%packages\nhostname\n%end\n';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

/** The job's own token, as a client sends it. */
const owner = (job: Json) => ({ authorization: `Bearer ${job.token}` });

async function create(fields: Json = {}): Promise<Json> {
  const r = await api('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail('api'), imagetype: 'tar', kickstart: goodKs, ...fields }) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/** What image-creator publishes when it has built the image: the file in place, then the link. */
async function finishBuild(job: Json, content: Buffer, filename = 'image.tar.zst', extra: Partial<LinkMessage> = {}): Promise<void> {
  const dir = join(env.IMG_DATA_DIR, 'images', job.id);
  await mkdir(dir, { recursive: true });
  if (!filename.includes('/')) await writeFile(join(dir, filename), content);
  await broker.publish(routes.link, linkMessage, {
    id: job.id, url: `${base}/images/${job.id}`, email: job.email, imagetype: 'tar', filename, size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'), duration_s: 12, logurl: `${base}/job/${job.id}/log`, ...extra,
  });
  await waitFor('the job to be done', async () => (await api(`/api/v1/jobs/${job.id}`)).body.status === 'done', { timeoutMs: 10_000 });
}

async function failBuild(job: Json, error: string, excerpt: string[] = []): Promise<void> {
  await broker.publish(routes.error, errorMessage, { id: job.id, error, url: `${base}/job/${job.id}/log`, email: job.email, code: 'post_script_failed', phase: 'post', excerpt });
  await waitFor('the job to fail', async () => (await api(`/api/v1/jobs/${job.id}`)).body.status === 'failed', { timeoutMs: 10_000 });
}

test('GET /api/v1/openapi.json, /image-types and /platforms describe the service', async () => {
  const doc = await api('/api/v1/openapi.json');
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, '3.1.0');
  assert.ok(doc.body.paths['/api/v1/jobs/{id}/log']);
  const types = await api('/api/v1/image-types');
  assert.deepEqual(types.body.built, [...imageTypes]);
  assert.equal(types.body.not_built_yet, undefined, 'every type is built: no scaffolding field');
  assert.ok(types.body.not_supported.includes('nand'));
  const platforms = await api('/api/v1/platforms');
  assert.ok(platforms.body.platforms.includes('MINIMAL'));
});

test('POST /api/v1/jobs takes JSON and multipart, kickstart or platform, and queues each once', async () => {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.purgeQueue(queues.image);
    await ch.purgeQueue(queues.kickstarter);
    const json = await create();
    assert.equal(json.status, 'queued');
    assert.match(json.id, /^[0-9a-f]{32}$/);
    assert.match(json.token, /^[A-Za-z0-9_-]{43}$/, 'the answer carries the job\'s token');
    assert.equal(json.links.page, `${base}/job/${json.id}?token=${json.token}`, 'its links carry the token');
    assert.equal(json.logfile, undefined, 'no server path is shown');

    const form = new FormData();
    form.set('email', uniqueEmail('api'));
    form.set('imagetype', 'fs');
    form.set('ksfile', new Blob([goodKs]), 'mine.ks');
    const multi = await api('/api/v1/jobs', { method: 'POST', body: form });
    assert.equal(multi.status, 201, JSON.stringify(multi.body));
    assert.equal(multi.body.filename, 'mine.ks');
    assert.equal(multi.headers.get('location'), `/api/v1/jobs/${multi.body.id}`);

    const tpl = await create({ kickstart: undefined, platform: 'MINIMAL', overlay: 'gcc' });
    assert.equal(tpl.source, 'template');
    assert.equal((await ch.checkQueue(queues.image)).messageCount, 2);
    assert.equal((await ch.checkQueue(queues.kickstarter)).messageCount, 1);
  } finally {
    await conn.close();
  }
  await purgeAllQueues();
});

test('POST /api/v1/jobs refuses bad submissions naming the field and line, and stores nothing', async () => {
  const before = (await api('/api/v1/jobs')).body.total;
  const cases: Array<[Json | string, number, string, RegExp, string?]> = [
    [{ email: 'nobody', imagetype: 'tar', kickstart: goodKs }, 400, 'email', /not a valid email/],
    [{ email: 'a@example.com', imagetype: 'nand', kickstart: goodKs }, 400, 'imagetype', /MeeGo hardware/],
    [{ email: 'a@example.com', imagetype: 'tar', kickstart: '%packages\nhostname\n%end\nfrobnicate\n' }, 400, 'ksfile', /line 4/],
    [{ email: 'a@example.com', imagetype: 'tar', platform: 'NOPE' }, 400, 'platform', /NOPE/],
    [{ email: 'a@example.com', imagetype: 'tar', platform: 'MINIMAL', overlay: 'good,,bad' }, 400, 'overlay', /./],
    [{ email: 'a@example.com', imagetype: 'tar', kickstart: goodKs, extra: 1 }, 400, 'body', /unrecognized/i],
    [{ email: 'a@example.com', imagetype: 'tar', kickstart: 'x'.repeat(5000) }, 400, 'kickstart', /at most 4096/],
    ['{not json', 400, '', /./],
  ];
  for (const [body, status, field, says] of cases) {
    const r = await api('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} → ${JSON.stringify(r.body)}`);
    assert.ok(r.body.error?.message, 'an error message');
    if (field) {
      const hit = (r.body.error.fields as Array<{ field: string; message: string; line?: number }>).find((f) => f.field === field);
      assert.ok(hit, `names ${field}: ${JSON.stringify(r.body)}`);
      assert.match(hit.message, says);
    }
  }
  const ks = await api('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@example.com', imagetype: 'tar', kickstart: 'bogus\n' }) });
  assert.equal(ks.body.error.fields[0].line, 1, 'the line is a field of its own');
  const binary = new FormData();
  binary.set('email', 'a@example.com');
  binary.set('imagetype', 'tar');
  binary.set('ksfile', new Blob([new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1])]), 'looks-like.ks');
  const bin = await api('/api/v1/jobs', { method: 'POST', body: binary });
  assert.equal(bin.status, 400);
  assert.match(bin.body.error.message, /not a text file/);
  const big = new FormData();
  big.set('email', 'a@example.com');
  big.set('imagetype', 'tar');
  big.set('ksfile', new Blob(['#'.repeat(5000)]), 'big.ks');
  const large = await api('/api/v1/jobs', { method: 'POST', body: big });
  assert.equal(large.status, 413);
  assert.match(large.body.error.message, /larger than the limit of 4096 bytes/);
  assert.equal((await api('/api/v1/jobs')).body.total, before, 'nothing was stored');
});

test('GET /api/v1/jobs lists newest first with filters, pages and queue positions; bad filters are 400', async () => {
  const email = uniqueEmail('lister');
  const mine = [await create({ email }), await create({ email }), await create({ email })];
  // Filtering by email is the operator's.
  const op = { headers: { authorization: `Bearer ${TOKEN}` } };
  assert.equal((await api(`/api/v1/jobs?email=${encodeURIComponent(email)}`)).status, 401);
  const all = await api(`/api/v1/jobs?email=${encodeURIComponent(email)}`, op);
  assert.equal(all.status, 200);
  assert.equal(all.body.total, 3);
  assert.deepEqual(all.body.jobs.map((j: Json) => j.id), mine.map((j) => j.id).reverse());
  assert.match(all.body.jobs[0].email, /^l\*\*\*@example\.com$/, 'submitters are masked in lists');
  assert.ok(all.body.jobs.every((j: Json) => typeof j.queue_position === 'number'));
  assert.equal(all.body.jobs[2].queue_position + 2, all.body.jobs[0].queue_position, 'the oldest is ahead');
  const paged = await api(`/api/v1/jobs?email=${encodeURIComponent(email)}&limit=2&page=2`, op);
  assert.deepEqual([paged.body.jobs.length, paged.body.pages, paged.body.jobs[0].id], [1, 2, mine[0]!.id]);
  const done = await api('/api/v1/jobs?status=done');
  assert.ok(done.body.jobs.every((j: Json) => j.status === 'done'));
  const active = await api(`/api/v1/jobs?status=active&email=${encodeURIComponent(email)}`, op);
  assert.equal(active.body.total, 3);
  for (const bad of ['status=running', 'limit=0', 'limit=500', 'page=-1', 'page=abc']) {
    const r = await api(`/api/v1/jobs?${bad}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.code, 'invalid_request');
  }
});

test('GET /api/v1/jobs/:id shows one job (its public view without the token); unknown and malformed ids are 404', async () => {
  const job = await create();
  const r = await api(`/api/v1/jobs/${job.id}`, { headers: owner(job) });
  assert.equal(r.status, 200);
  assert.equal(r.body.kickstart, goodKs);
  assert.equal(r.body.email, job.email);
  assert.equal(r.body.queue_position !== undefined, true);
  const pub = await api(`/api/v1/jobs/${job.id}`);
  assert.equal(pub.status, 200);
  assert.deepEqual([pub.body.kickstart, pub.body.token, pub.body.status], [undefined, undefined, 'queued']);
  assert.equal(pub.body.queue_position, r.body.queue_position);
  for (const id of ['0'.repeat(32), 'nope', '../../etc/passwd']) {
    const miss = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
    assert.equal(miss.status, 404, id);
    assert.equal(miss.body.error.code, 'not_found');
  }
  assert.equal((await api('/api/v1/nothing-here')).status, 404);
});

/** Plays image-creator's part for a job's log: its live stream on the broker, then the stored log. */
async function buildLog(job: Json) {
  const writer = new LiveLogWriter(broker, job.id, testLogger('api-test-log'), { flushMs: 10 });
  await writer.open(1);
  let written = '';
  return {
    async write(text: string) {
      written += text;
      writer.write(text);
      await writer.flush();
    },
    /** The build ends: the log goes into the store (the data directory here), the stream is done. */
    async store() {
      await mkdir(join(env.IMG_DATA_DIR, 'logs'), { recursive: true });
      await writeFile(join(env.IMG_DATA_DIR, 'logs', `${job.id}.log`), written);
      await writer.end();
      await writer.remove();
    },
  };
}

test('the job records how its build started, from the progress message on, and shows it to its owner', async () => {
  const job = await create();
  const owner = async () => (await api(`/api/v1/jobs/${job.id}?token=${job.token}`)).body;
  await broker.publish(routes.result, resultMessage, { id: job.id, logfile: `logs/${job.id}.log`, phase: 'installing', start: 'base' });
  await waitFor('the start to be recorded', async () => (await owner()).start === 'base', { timeoutMs: 10_000 });
  // The build fell back (its base was older than the package lists): the link says so, and wins.
  await finishBuild(job, Buffer.from('an image'), 'image.tar.zst', { start: 'scratch' });
  const done = await owner();
  assert.equal(done.status, 'done');
  assert.equal(done.start, 'scratch');
});

test('GET /api/v1/jobs/:id/log reads from an offset, so a client can follow it: live from the build\'s stream, then from the store', async () => {
  const job = await create();
  const empty = await api(`/api/v1/jobs/${job.id}/log`, { headers: owner(job) });
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get('x-log-offset'), '0');
  const live = await buildLog(job);
  await live.write('first line\n');
  const one = await waitFor('the first line, live', async () => {
    const r = await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=0&token=${job.token}`);
    const text = await r.text();
    return text ? { text, next: Number(r.headers.get('x-log-offset')), status: r.headers.get('x-job-status') } : undefined;
  }, { timeoutMs: 10_000 });
  assert.equal(one.text, 'first line\n');
  assert.equal(one.status, 'queued');
  await live.write('second line\n');
  const two = await waitFor('the second line, live', async () => (await (await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=${one.next}`, { headers: owner(job) })).text()) || undefined, { timeoutMs: 10_000 });
  assert.equal(two, 'second line\n');
  const past = await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=99999`, { headers: owner(job) });
  assert.equal(await past.text(), '');
  assert.equal((await api(`/api/v1/jobs/${job.id}/log?offset=-5`, { headers: owner(job) })).status, 400);
  assert.equal((await api(`/api/v1/jobs/${'0'.repeat(32)}/log`)).status, 404);
  assert.equal(await (await fetch(`${base}/job/${job.id}/log?token=${job.token}`)).text(), 'first line\nsecond line\n', 'the plain-text log page, while it runs');
  await live.store();
  await finishBuild(job, Buffer.from('image'));
  const stored = await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=${one.next}`, { headers: owner(job) });
  assert.equal(await stored.text(), 'second line\n', 'the same offsets, from the store once the job is done');
  assert.equal(stored.headers.get('x-job-status'), 'done');
  assert.equal(await (await fetch(`${base}/job/${job.id}/log?token=${job.token}`)).text(), 'first line\nsecond line\n', 'the plain-text log page, from the store');
});

test('GET /api/v1/jobs/:id/events streams the state and the log as they change, and ends when the job has', async () => {
  const job = await create();
  const live = await buildLog(job);
  await live.write('starting\n');
  // Each change is made when the stream has shown the one before: progress once the job is seen,
  // a log line once the progress is, the finished build once the line is.
  type Data = { status?: string; phase?: string; text?: string };
  const steps: Array<{ after: (e: { event: string; data: unknown }) => boolean; run: () => Promise<unknown> }> = [
    { after: (e) => e.event === 'job', run: () => broker.publish(routes.result, resultMessage, { id: job.id, logfile: `logs/${job.id}.log`, phase: 'installing', progress: 0.5 }) },
    { after: (e) => e.event === 'job' && (e.data as Data).phase === 'installing', run: () => live.write('installing hostname\n') },
    { after: (e) => e.event === 'log' && Boolean((e.data as Data).text?.includes('installing hostname')), run: async () => { await live.store(); await finishBuild(job, Buffer.from('image')); } },
  ];
  const failures: unknown[] = [];
  const seen = await readEvents(`${base}/api/v1/jobs/${job.id}/events?token=${job.token}`, (e) => {
    if (steps[0]?.after(e)) steps.shift()!.run().catch((err: unknown) => failures.push(err));
    return e.event === 'end';
  }, { timeoutMs: 20_000 });
  assert.deepEqual(failures, []);
  assert.equal(steps.length, 0, 'every change was seen');
  assert.equal(seen.status, 200);
  assert.match(seen.contentType, /text\/event-stream/);
  const names = seen.events.map((e) => e.event).filter((e) => e !== 'ping');
  assert.equal(names[0], 'job');
  const text = seen.events.filter((e) => e.event === 'log').map((e) => (e.data as { text: string }).text).join('');
  assert.equal(text, 'starting\ninstalling hostname\n');
  const states = seen.events.filter((e) => e.event === 'job').map((e) => (e.data as { status: string; phase: string }));
  assert.deepEqual(states.map((s) => s.status).filter((s, i, a) => a[i - 1] !== s), ['queued', 'building', 'done']);
  assert.ok(states.some((s) => s.phase === 'installing'));
  assert.equal(names.at(-1), 'end');
  // The log event ids are offsets: a reconnect resumes where it left off.
  const resumed = await readEvents(`${base}/api/v1/jobs/${job.id}/events`, (e) => e.event === 'end', { timeoutMs: 5000, headers: { 'last-event-id': '9', ...owner(job) } });
  assert.equal(resumed.events.filter((e) => e.event === 'log').map((e) => (e.data as { text: string }).text).join(''), 'installing hostname\n');
  assert.equal((await api(`/api/v1/jobs/${'0'.repeat(32)}/events`)).status, 404);
  assert.equal((await api(`/api/v1/jobs/${job.id}/events?offset=x&token=${job.token}`)).status, 400);
});

test('GET /api/v1/queue/events says when the queue changes', async () => {
  let created: Json | undefined;
  const seen = await readEvents(`${base}/api/v1/queue/events`, (e) => e.event === 'change', {
    timeoutMs: 10_000,
    onOpen: async () => {
      created = await create();
    },
  });
  assert.ok(created);
  assert.deepEqual(seen.events.map((e) => e.event).filter((e) => e !== 'ping'), ['hello', 'change']);
});

test('POST /api/v1/jobs/:id/cancel cancels, stops the build and tells the notifier; twice is 409, unknown 404', async () => {
  // Hear the control fanout as image-creator does, through a queue of our own.
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchanges.control, '');
    await ch.purgeQueue(queues.notify);
    const job = await create();
    const r = await api(`/api/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: owner(job) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'cancelled');
    assert.equal(r.body.error_code, 'cancelled');
    const stop = await waitFor('the cancel message', async () => (await ch.get(queue, { noAck: true })) || undefined, { timeoutMs: 5000 });
    assert.equal(JSON.parse(stop.content.toString()).id, job.id);
    // The notifier is told through a notify message the frontend seals (the notifier reads no job records).
    const told = await waitFor('the notify message', async () => (await ch.get(queues.notify, { noAck: true })) || undefined, { timeoutMs: 5000 });
    const msg = JSON.parse(told.content.toString());
    assert.deepEqual([msg.id, msg.outcome, msg.email, msg.job.type, msg.job.status, msg.report.reason], [job.id, 'cancelled', job.email, 'tar', 'cancelled', 'cancelled by request']);
    assert.ok(isSealedNotify(testTokenSecret, msg), 'sealed with the frontend\'s key');
    const again = await api(`/api/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: owner(job) });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /cancelled/);
    assert.equal((await api(`/api/v1/jobs/${'0'.repeat(32)}/cancel`, { method: 'POST' })).status, 404);
    assert.equal((await api('/api/v1/jobs/bad-id/cancel', { method: 'POST' })).status, 404);
  } finally {
    await conn.close();
  }
});

test('POST /api/v1/jobs/:id/retry makes a new job with the same request once the old one finished', async () => {
  const job = await create({ kickstart: '%packages\nhostname\n%end\n%post\nfalse\n%end\n' });
  const early = await api(`/api/v1/jobs/${job.id}/retry`, { method: 'POST', headers: owner(job) });
  assert.equal(early.status, 409);
  await failBuild(job, 'line 5: false failed');
  const again = await api(`/api/v1/jobs/${job.id}/retry`, { method: 'POST', headers: owner(job) });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.notEqual(again.body.id, job.id);
  assert.ok(again.body.token && again.body.token !== job.token, 'the new job comes with its own token');
  assert.deepEqual([again.body.status, again.body.kickstart, again.body.email, again.body.type], ['queued', job.kickstart, job.email, 'tar']);
  assert.equal((await api(`/api/v1/jobs/${'0'.repeat(32)}/retry`, { method: 'POST' })).status, 404);
});

test('the download: Content-Length, ranges, the checksum, and a name that would leave its directory refused', async () => {
  const job = await create();
  const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  await finishBuild(job, content);
  const sha = createHash('sha256').update(content).digest('hex');
  const whole = await fetch(`${base}/images/${job.id}`, { headers: owner(job) });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-length'), '5000');
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.equal(whole.headers.get('x-checksum-sha256'), sha);
  assert.equal(whole.headers.get('repr-digest'), `sha-256=:${Buffer.from(sha, 'hex').toString('base64')}:`);
  assert.match(whole.headers.get('content-disposition') ?? '', /attachment; filename="?image\.tar\.zst"?/);
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(content));
  // A build that left no manifest (an image-creator from before manifests were kept): the provenance files are 404s that say so.
  for (const p of [`/api/v1/jobs/${job.id}/manifest`, `/images/${job.id}/sbom.spdx.json`, `/images/${job.id}/SHA256SUMS`, `/images/${job.id}/SHA256SUMS.sign`]) {
    const none = await api(p, { headers: { ...owner(job), accept: 'application/json' } });
    assert.equal(none.status, 404, p);
    assert.match(none.body.error.message, /no package manifest: it was built before IMG kept package manifests/, p);
  }

  const part = await fetch(`${base}/images/${job.id}`, { headers: { range: 'bytes=1000-1999', ...owner(job) } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 1000-1999/5000');
  assert.equal(part.headers.get('content-length'), '1000');
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(content.subarray(1000, 2000)));
  const resumed = await fetch(`${base}/images/${job.id}`, { headers: { range: 'bytes=4000-', 'if-range': `"${sha}"`, ...owner(job) } });
  assert.equal(resumed.status, 206, 'If-Range with the checksum resumes');
  // Every body is read to its end: one left unread holds its connection, and a later request may be sent on it as it closes.
  assert.equal((await resumed.arrayBuffer()).byteLength, 1000);
  const stale = await fetch(`${base}/images/${job.id}`, { headers: { range: 'bytes=4000-', 'if-range': '"something-else"', ...owner(job) } });
  assert.equal(stale.status, 200, 'a stale If-Range gets the whole file');
  await stale.arrayBuffer();
  const bad = await fetch(`${base}/images/${job.id}`, { headers: { range: 'bytes=9000-9999', ...owner(job) } });
  assert.equal(bad.status, 416);
  await bad.arrayBuffer();
  const sum = await fetch(`${base}/images/${job.id}/sha256?token=${job.token}`);
  assert.equal(await sum.text(), `${sha}  image.tar.zst\n`);

  const queued = await create();
  assert.equal((await api(`/images/${queued.id}`, { headers: owner(queued) })).status, 404, 'no image before it is done');
  assert.equal((await api(`/images/${'0'.repeat(32)}`)).status, 404);

  // A link message naming a file outside the job's directory (image-creator would never send one).
  const evil = await create();
  await finishBuild(evil, Buffer.from('x'), '../../../../etc/passwd');
  const refused = await fetch(`${base}/images/${evil.id}`, { headers: owner(evil) });
  assert.equal(refused.status, 404);
  assert.doesNotMatch(await refused.text(), /root:/);
});

test('DELETE /api/v1/jobs/:id and DELETE /api/v1/jobs need the operator, and remove the files with the jobs', async () => {
  const job = await create();
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.equal((await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE' })).status, 401);
  assert.equal((await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } })).status, 403);
  assert.equal((await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: owner(job) })).status, 403, 'the job\'s own token is not the operator');
  const active = await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth });
  assert.equal(active.status, 409, 'a job still waiting is cancelled first');
  await finishBuild(job, Buffer.from('img'));
  await writeFile(join(env.IMG_DATA_DIR, 'logs', `${job.id}.log`), 'log\n').catch(async () => {
    await mkdir(join(env.IMG_DATA_DIR, 'logs'), { recursive: true });
    await writeFile(join(env.IMG_DATA_DIR, 'logs', `${job.id}.log`), 'log\n');
  });
  const gone = await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth });
  assert.equal(gone.status, 200, JSON.stringify(gone.body));
  await assert.rejects(stat(join(env.IMG_DATA_DIR, 'images', job.id)), 'the image directory is gone');
  await assert.rejects(stat(join(env.IMG_DATA_DIR, 'logs', `${job.id}.log`)), 'the log is gone');
  assert.equal((await api(`/api/v1/jobs/${job.id}`)).status, 404);
  assert.equal((await api(`/api/v1/jobs/${job.id}`, { method: 'DELETE', headers: auth })).status, 404);

  const finished = await create();
  await failBuild(finished, 'broken');
  const waiting = await create();
  assert.equal((await api('/api/v1/jobs', { method: 'DELETE' })).status, 401);
  const cleared = await api('/api/v1/jobs', { method: 'DELETE', headers: auth });
  assert.equal(cleared.status, 200);
  assert.ok(cleared.body.deleted >= 1);
  assert.equal((await api(`/api/v1/jobs/${finished.id}`)).status, 404, 'finished jobs went');
  assert.equal((await api(`/api/v1/jobs/${waiting.id}`)).status, 200, 'waiting jobs stay');
  assert.equal((await api('/api/v1/jobs?status=finished')).body.total, 0);
  const left = await readdir(join(env.IMG_DATA_DIR, 'images'));
  assert.ok(!left.includes(finished.id));
});
