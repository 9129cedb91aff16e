// The whole path with nothing mocked: the HTTP form, RabbitMQ, the four services as real processes,
// a build in a Docker sandbox, the download, and the email read back from the SMTP server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { queues } from '@img/shared/broker';
import { mailsTo, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { formSession } from '../support/http.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];

before(async () => {
  // Idempotent and quick when the image is there; rebuilds it when the recipe changed.
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600' });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) {
    services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  }
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

/** The token of each job this file submitted, from the form's redirect. */
const tokens = new Map<string, string>();
const tokenOf = (id: string) => tokens.get(id) ?? '';

async function submitKickstart(email: string, kickstart: string, imagetype = 'tar'): Promise<string> {
  const form = new FormData();
  form.set('email', email);
  form.set('imagetype', imagetype);
  form.set('ksfile', new Blob([kickstart], { type: 'text/plain' }), 'test.ks');
  const res = await (await formSession(env.IMG_PUBLIC_URL)).post('/submit', form);
  assert.equal(res.status, 303, `submit answered ${res.status}: ${await res.text()}`);
  const location = res.headers.get('location') ?? '';
  const m = /^\/job\/([0-9a-f]{32})\?token=([A-Za-z0-9_-]{43})$/.exec(location);
  assert.ok(m, `redirected to ${location}`);
  tokens.set(m[1]!, m[2]!);
  return m[1]!;
}

interface ApiJob { email_status?: { state: string }; status: string; history: Array<{ status: string }>; size?: number; sha256?: string; error?: string; error_code?: string; imagefile?: string; url?: string }

async function job(id: string): Promise<ApiJob> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', authorization: `Bearer ${tokenOf(id)}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as ApiJob;
}

async function finished(id: string): Promise<ApiJob> {
  return waitFor(`job ${id} to finish`, async () => {
    const j = await job(id);
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 10 * 60_000, intervalMs: 1000 });
}

/**
 * The job's mails, once the notifier has recorded its email as sent (the record is written as the
 * relay accepts the mail; a second delivery finds it and sends nothing) and nothing is left on
 * notify_queue.
 */
async function mailsOnceSent(id: string, email: string) {
  await waitFor(`the email of ${id} recorded as sent`, async () => (await job(id)).email_status?.state === 'sent', { timeoutMs: 60_000, intervalMs: 500 });
  await queueDrained(queues.notify, { timeoutMs: 30_000 });
  return mailsTo(email);
}

/** The states a job went through, repeated entries folded. */
function statuses(j: ApiJob): string[] {
  return j.history.map((h) => h.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

test('a kickstart submitted through the form becomes a rootfs archive with the %post file in it, and one email with the link', async () => {
  const email = uniqueEmail('skeleton');
  const marker = `made-by-img-${Date.now()}`;
  const id = await submitKickstart(email, [
    '# a minimal rootfs',
    '%packages',
    'hostname',
    '%end',
    '',
    '%post',
    `echo ${marker} > /etc/img-marker`,
    '%end',
    '',
  ].join('\n'));

  const done = await finished(id);
  assert.equal(done.status, 'done', `job ended ${done.status}: ${done.error ?? ''}`);
  assert.deepEqual(statuses(done), ['queued', 'building', 'done']);

  const res = await fetch(`${env.IMG_PUBLIC_URL}/images/${id}?token=${tokenOf(id)}`);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(Number(res.headers.get('content-length')), body.length);
  assert.equal(body.length, done.size);
  assert.equal(createHash('sha256').update(body).digest('hex'), done.sha256);
  assert.equal(res.headers.get('x-checksum-sha256'), done.sha256);
  const dir = await tempDir();
  try {
    const file = join(dir, done.imagefile ?? 'image.tar.zst');
    await writeFile(file, body);
    const content = execFileSync('tar', ['--zstd', '-xOf', file, './etc/img-marker'], { encoding: 'utf8' });
    assert.equal(content.trim(), marker);
    const listing = execFileSync('tar', ['--zstd', '-tf', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.match(listing, /^\.\/bin\/hostname$|^\.\/usr\/bin\/hostname$/m, 'the %packages package is installed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const mails = await mailsOnceSent(id, email);
  assert.equal(mails.length, 1, 'exactly one email');
  assert.match(mails[0]!.subject, /ready/);
  assert.ok(mails[0]!.text.includes(`${env.IMG_PUBLIC_URL}/images/${id}?token=${tokenOf(id)}`), 'the email carries the download link, with the job\'s token');
});

test('a failing %post ends the job failed, with the failing command in the log and exactly one failure email', async () => {
  const email = uniqueEmail('skeleton-fail');
  const id = await submitKickstart(email, [
    '%packages',
    'hostname',
    '%end',
    '%post',
    'echo first step works',
    'this-command-does-not-exist --really',
    'echo never reached',
    '%end',
  ].join('\n'));

  const failed = await finished(id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error_code, 'post_script_failed');
  assert.match(failed.error ?? '', /this-command-does-not-exist --really/);
  assert.match(failed.error ?? '', /line 4/);
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${id}/log?token=${tokenOf(id)}`)).text();
  assert.match(log, /this-command-does-not-exist: not found/);
  assert.doesNotMatch(log, /^never reached$/m);
  assert.equal((await fetch(`${env.IMG_PUBLIC_URL}/images/${id}?token=${tokenOf(id)}`)).status, 404);

  const mails = await mailsOnceSent(id, email);
  assert.equal(mails.length, 1, 'exactly one email');
  assert.match(mails[0]!.subject, /failed/);
  assert.ok(mails[0]!.text.includes('this-command-does-not-exist'), 'the email shows the failing command');
  assert.ok(mails[0]!.text.includes(`${env.IMG_PUBLIC_URL}/job/${id}/log?token=${tokenOf(id)}`), 'the email links the log, with the job\'s token');
});
