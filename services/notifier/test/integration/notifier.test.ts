// The notifier against a real SMTP server (the project's mail catcher, started and stopped by the
// test), real RabbitMQ and the real database: what arrives, how often, and what happens when the
// relay is down, rejects an address, or the notifier dies mid-way. Outcomes are published straight
// to the broker as image-creator publishes them; the frontend (a real one: it owns the job records
// and checks each outcome against them) tells the notifier, which reads no records.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import amqp from 'amqplib';
import type { Connection } from 'mongoose';
import { Broker, exchanges, queues, routes } from '@img/shared/broker';
import { errorMessage, linkMessage, notifyMessage, type ErrorMessage, type LinkMessage } from '@img/shared/contracts';
import { jobToken, MongoJobStore, newJobId, sealNotify, type Job } from '@img/shared/jobs';
import {
  connectTestBroker, connectTestDatabase, deadLettered, freePort, purgeAllQueues, queueDrained, stackEnv, startService, tempDir, testEnv,
  testTokenSecret, uniqueEmail, waitFor, type ServiceProcess,
} from '@img/shared/testing';
import { MailCatcher, type StoredMail } from '../../../../deploy/mail-catcher/mail-catcher.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let broker: Broker;
let db: Connection;
let store: MongoJobStore;
let mailDir: string;
let smtpPort: number;
let httpPort: number;
let catcher: MailCatcher | undefined;
const running: ServiceProcess[] = [];
let frontend: ServiceProcess;

async function startCatcher(): Promise<MailCatcher> {
  const c = new MailCatcher({ dir: mailDir, smtpPort, httpPort, rejectRecipients: /^rejected-/ });
  await c.start();
  return c;
}

async function notifier(): Promise<ServiceProcess> {
  const p = await startService('notifier', env);
  running.push(p);
  started.push(p);
  return p;
}

before(async () => {
  await purgeAllQueues();
  mailDir = await tempDir('img-mail-');
  smtpPort = await freePort();
  httpPort = await freePort();
  catcher = await startCatcher();
  env = await stackEnv({
    IMG_SMTP_PORT: String(smtpPort),
    IMG_MAIL_FROM: 'IMG Builds <builds@img.example>',
    IMG_MAIL_REPLY_TO: 'help@img.example',
    IMG_MAIL_RETRY_MAX_DELAY_S: '3',
    IMG_SMTP_TIMEOUT_MS: '3000',
    IMG_IMAGE_RETENTION_DAYS: '9',
  });
  broker = await connectTestBroker('notifier-test');
  db = await connectTestDatabase();
  store = new MongoJobStore(db);
  await store.init();
  frontend = await startService('frontend', env);
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await frontend?.stop();
  await broker?.close();
  await db?.close();
  await catcher?.stop();
  await rm(mailDir, { recursive: true, force: true });
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

async function newJob(email = uniqueEmail('n'), platform = 'MINIMAL'): Promise<Job> {
  return store.create({ email, type: 'tar', source: 'template', platform, config: 'x', overlay: '' });
}

function link(job: Job): LinkMessage {
  return {
    id: job.id, email: job.email, imagetype: 'tar', url: `${env.IMG_PUBLIC_URL}/images/${job.id}`, filename: `img-${job.id.slice(0, 12)}-tar.tar.zst`,
    size: 52_428_800, sha256: 'ab'.repeat(32), duration_s: 42.5, logurl: `${env.IMG_PUBLIC_URL}/job/${job.id}/log`, version: 1,
  };
}

function failure(job: Job): ErrorMessage {
  return {
    id: job.id, email: job.email, imagetype: 'tar', code: 'post_script_failed', phase: 'post',
    error: 'the %post script (kickstart line 4) failed at the command: frobnicate --now',
    excerpt: ['+ echo first', 'first', '+ frobnicate --now', 'sh: 1: frobnicate: not found'],
    url: `${env.IMG_PUBLIC_URL}/job/${job.id}/log`, position: { line: 4 }, version: 1,
  };
}

async function mailsFor(address: string): Promise<StoredMail[]> {
  return (await catcher!.list(address));
}

const started: ServiceProcess[] = [];
/** Deliveries of the job's outcomes that a notifier has finished with, from every notifier's log. */
function finishedDeliveries(jobId: string): number {
  const done = ['"msg":"email sent"', '"msg":"already handled, not sending again"', '"msg":"the relay rejected the address; not retrying"'];
  return started.flatMap((p) => p.output).filter((l) => l.includes(`"jobId":"${jobId}"`) && done.some((d) => l.includes(d))).length;
}

/**
 * The one mail of a job, once every delivery of its outcome (`deliveries` publishes) has been
 * finished with by a notifier: a second mail would have been sent by then.
 */
async function exactlyOne(job: Job, deliveries = 1): Promise<StoredMail> {
  await waitFor(`${deliveries} deliveries of ${job.id} handled`, async () => finishedDeliveries(job.id) >= deliveries, { timeoutMs: 60_000 });
  const mails = await mailsFor(job.email);
  assert.equal(mails.length, 1, `exactly one mail to ${job.email}`);
  return mails[0]!;
}

test('the success email has the link, size, checksum, duration, retention and job page, from the configured sender', async () => {
  await notifier();
  const job = await newJob();
  await broker.publish(routes.link, linkMessage, link(job));
  const m = await exactlyOne(job);
  assert.equal(m.subject, `[IMG] Your tar MINIMAL image is ready (job ${job.id.slice(0, 8)})`);
  assert.equal(m.from, 'builds@img.example');
  assert.match(m.headers['reply-to'] ?? '', /help@img\.example/);
  assert.equal(m.headers['x-img-job'], job.id);
  // Every link into IMG carries the job's token (the frontend's HMAC, under the key both share).
  const token = jobToken(testTokenSecret, job.id);
  for (const part of [m.text, m.html.replaceAll('&amp;', '&')]) {
    assert.ok(part.includes(`${env.IMG_PUBLIC_URL}/images/${job.id}?token=${token}`), 'download link');
    assert.ok(part.includes(`${env.IMG_PUBLIC_URL}/job/${job.id}?token=${token}`), 'job page link');
    assert.ok(part.includes(`${env.IMG_PUBLIC_URL}/job/${job.id}/log?token=${token}`), 'log link');
    assert.ok(part.includes('ab'.repeat(32)), 'checksum');
    assert.ok(part.includes('50.0 MiB'), 'size');
    assert.ok(part.includes('42.5 s'), 'duration');
    assert.ok(part.includes('9 days'), 'retention');
  }
});

test('the emails say which suite the image is: the build\'s word, else the job\'s record', async () => {
  const built = await newJob();
  await broker.publish(routes.link, linkMessage, { ...link(built), suite: 'bookworm' });
  const m = await exactlyOne(built);
  assert.match(m.text, /^Suite: +Debian bookworm$/m);
  assert.match(m.html, /<td>Suite<\/td><td>Debian bookworm<\/td>/);
  // A failure before the kickstart was read carries no suite: the record made at submission says it.
  const failed = await store.create({ email: uniqueEmail('n'), type: 'tar', source: 'kickstart', kickstart: '%packages\n%end\n', suite: 'sid' });
  await broker.publish(routes.error, errorMessage, failure(failed));
  const f = await exactlyOne(failed);
  assert.match(f.text, /^Suite: +Debian sid$/m);
});

test('the failure email says what failed in plain words, shows the telling log lines and links the log and the job', async () => {
  const job = await newJob();
  await broker.publish(routes.error, errorMessage, failure(job));
  const m = await exactlyOne(job);
  assert.match(m.subject, /failed: A %post script failed/);
  assert.match(m.text, /What failed: A %post script failed/);
  assert.match(m.text, /frobnicate: not found/);
  assert.match(m.text, /\+ frobnicate --now/);
  assert.ok(m.text.includes(`${env.IMG_PUBLIC_URL}/job/${job.id}/log?token=${jobToken(testTokenSecret, job.id)}`));
  assert.ok(m.text.includes(`${env.IMG_PUBLIC_URL}/job/${job.id}?token=${jobToken(testTokenSecret, job.id)}`));
  assert.match(m.html, /<pre[^>]*>[\s\S]*frobnicate: not found/);
});

/** Cancels the job as its owner does, through the frontend. */
async function cancel(job: Job): Promise<Response> {
  return fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${jobToken(testTokenSecret, job.id)}` } });
}

test('a cancelled job gets one short email', async () => {
  const job = await newJob();
  assert.equal((await cancel(job)).status, 200);
  const m = await exactlyOne(job);
  assert.match(m.subject, /cancelled/);
  assert.match(m.text, /cancelled by request/);
});

test('the same result delivered three times gives one email', async () => {
  const job = await newJob();
  for (let i = 0; i < 3; i++) await broker.publish(routes.link, linkMessage, link(job));
  await exactlyOne(job, 3);
});

test('two notifier processes on the same queue give one email per job', async () => {
  await notifier();
  const jobs = await Promise.all(Array.from({ length: 10 }, () => newJob()));
  for (const job of jobs) {
    await broker.publish(routes.link, linkMessage, link(job));
    await broker.publish(routes.link, linkMessage, link(job));
  }
  for (const job of jobs) await exactlyOne(job, 2);
});

test('SMTP down during ten completions: ten emails once it is back, none twice', async () => {
  await catcher!.stop();
  catcher = undefined;
  const jobs = await Promise.all(Array.from({ length: 10 }, () => newJob()));
  try {
    for (const job of jobs) await broker.publish(routes.link, linkMessage, link(job));
    // Every completion has met the outage: each one's send failed and waits to be tried again.
    await waitFor('a failed send for each completion', async () => jobs.every((job) => started.some((p) => p.output.some((l) => l.includes(`"jobId":"${job.id}"`) && l.includes('SMTP failed, trying again')))), { timeoutMs: 60_000 });
  } finally {
    catcher = await startCatcher();
  }
  for (const job of jobs) await exactlyOne(job);
  const records = await Promise.all(jobs.map((j) => db.collection('notifications').findOne({ _id: `${j.id}:done` as unknown as never })));
  assert.ok(records.every((r) => r?.state === 'sent'));
});

test('an address the relay rejects permanently is recorded and not retried', async () => {
  const job = await newJob(`rejected-${Date.now()}@example.com`);
  await broker.publish(routes.error, errorMessage, failure(job));
  const rec = await waitFor('the rejection record', () => db.collection('notifications').findOne({ _id: `${job.id}:failed` as unknown as never }), { timeoutMs: 20_000 });
  assert.equal(rec.state, 'rejected');
  assert.equal(rec.attempts, 1);
  assert.match(String(rec.error), /^550/);
  await waitFor('the delivery finished with', async () => finishedDeliveries(job.id) === 1, { timeoutMs: 20_000 });
  assert.equal(started.flatMap((p) => p.output).filter((l) => l.includes(`"jobId":"${job.id}"`) && l.includes('SMTP failed, trying again')).length, 0, 'not retried');
});

test('a notifier killed while the relay is down: the next one sends the email, once', async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  await catcher!.stop();
  catcher = undefined;
  const first = await notifier();
  const job = await newJob();
  await broker.publish(routes.link, linkMessage, link(job));
  await waitFor('the first try to fail', async () => first.output.some((l) => l.includes('SMTP failed, trying again') && l.includes(job.id)), { timeoutMs: 30_000 });
  await first.kill();
  running.splice(running.indexOf(first), 1);
  catcher = await startCatcher();
  await notifier();
  await exactlyOne(job);
});

test('an address with a line break never reaches the relay: the message is dead-lettered, no email is sent', async () => {
  const job = await newJob();
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.purgeQueue(queues.deadLetter);
    const bad = { ...link(job), email: `${job.email}\r\nBcc: victim@example.com` };
    ch.publish(exchanges.result, routes.link.key, Buffer.from(JSON.stringify(bad)), { persistent: true });
    await ch.waitForConfirms();
    const dead = await waitFor('the dead letter', async () => {
      const m = await ch.get(queues.deadLetter, { noAck: true });
      return m ? JSON.parse(m.content.toString()) as { id: string } : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(dead.id, job.id);
  } finally {
    await conn.close();
  }
  assert.equal((await mailsFor('victim@example.com')).length, 0);
  assert.equal((await mailsFor(job.email)).length, 0);
});

test('a platform name with line breaks cannot add a header', async () => {
  const job = await newJob(uniqueEmail('hdr'), 'EVIL\r\nBcc: victim@example.com');
  await broker.publish(routes.link, linkMessage, link(job));
  const m = await exactlyOne(job);
  assert.equal(m.headers.bcc, undefined);
  assert.doesNotMatch(m.subject, /[\r\n]/);
  assert.equal((await mailsFor('victim@example.com')).length, 0);
});

test('an outcome for a job nobody submitted, or naming another address than the job\'s, is dead-lettered and mailed to nobody', async () => {
  await notifier();
  const ghost = { ...link(await newJob()), id: newJobId(), email: uniqueEmail('ghost') };
  const job = await newJob();
  const forged = { ...failure(job), email: uniqueEmail('thief') };
  await broker.publish(routes.link, linkMessage, ghost);
  await broker.publish(routes.error, errorMessage, forged);
  assert.equal((await deadLettered(ghost.id, { timeoutMs: 30_000 })).email, ghost.email);
  assert.equal((await deadLettered(job.id, { timeoutMs: 30_000 })).email, forged.email);
  // Each letter was refused before any mail: nothing went to either address, nor to the job's owner.
  for (const to of [ghost.email, forged.email, job.email]) assert.equal((await mailsFor(to)).length, 0, to);
  // The notifier goes on: the real outcome of the same job is mailed to its owner.
  await broker.publish(routes.error, errorMessage, failure(job));
  const m = await exactlyOne(job);
  assert.match(m.subject, /failed/);
});

test('a notify message published straight to the broker, without the frontend\'s seal, is dead-lettered and mails nobody', async () => {
  await notifier();
  const job = await newJob();
  const thief = uniqueEmail('thief');
  const body = {
    id: job.id, outcome: 'done' as const, email: thief,
    job: { type: 'tar' as const, status: 'done' as const, phase: 'queued' as const, created: new Date().toISOString() },
    report: { ...link(job), email: thief },
  };
  // Sealed with a key that is not IMG_TOKEN_SECRET, and with none that fits.
  await broker.publish(routes.notify, notifyMessage, { ...body, seal: sealNotify('some-other-secret-0123456789abcdefghijkl', body) });
  assert.equal((await deadLettered(job.id, { timeoutMs: 30_000 })).email, thief);
  // The frontend's own seal over another message does not carry over either.
  const other = await newJob();
  const sealed = { ...body, id: other.id, report: { ...body.report, id: other.id } };
  await broker.publish(routes.notify, notifyMessage, { ...sealed, email: uniqueEmail('thief2'), seal: sealNotify(testTokenSecret, sealed) });
  await deadLettered(other.id, { timeoutMs: 30_000 });
  for (const to of [thief, job.email, other.email]) assert.equal((await mailsFor(to)).length, 0, to);
});

test('an outcome the job\'s record contradicts is not mailed: a success after a failure, a cancellation of a finished job', async () => {
  await notifier();
  const failed = await newJob();
  await store.transition(failed.id, 'failed', { error: 'x', error_code: 'post_script_failed' });
  const done = await newJob();
  await store.transition(done.id, 'done', {});
  await broker.publish(routes.link, linkMessage, link(failed));
  assert.equal((await cancel(done)).status, 409, 'a finished job cannot be cancelled');
  await waitFor('the success of a failed job ignored', async () => frontend.output.some((l) => l.includes(`"jobId":"${failed.id}"`) && l.includes('link for a job not in a building state, ignored')), { timeoutMs: 30_000 });
  await queueDrained(queues.notify, { timeoutMs: 30_000 });
  assert.equal((await mailsFor(failed.email)).length, 0);
  assert.equal((await mailsFor(done.email)).length, 0);
});
