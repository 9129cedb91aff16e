// A whole job from form to email with the object store and no shared folder: the frontend,
// kickstarter, image-creator and notifier each get a data directory of their own, and the only
// things they share are RabbitMQ, the database and the S3 store (SeaweedFS, started by up.sh with
// IMG_STORAGE=s3). The live log is followed while the build runs, the download is read whole and
// by range (streamed by the frontend, and by a presigned URL from a second frontend), one email.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { queues } from '@img/shared/broker';
import { logStreamName } from '@img/shared/live-log';
import {
  mailsTo, purgeAllQueues, queueDrained, repoRoot, stackEnv, startService, tempDir, testEnv, testS3Storage, uniqueEmail, waitFor, type ServiceProcess,
} from '@img/shared/testing';
import { download, finished, followLog, jobOf, submit } from './support.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let store: Awaited<ReturnType<typeof testS3Storage>>;
const dirs: Record<string, string> = {};
const services: ServiceProcess[] = [];
let presigning: ServiceProcess;
let presigningBase: string;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  store = await testS3Storage();
  env = await stackEnv({ ...store.env, IMG_BUILD_TIMEOUT_S: '600', IMG_VERIFY_BOOT: 'false' });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) {
    dirs[name] = await tempDir(`img-${name}-`);
    services.push(await startService(name, { ...env, IMG_DATA_DIR: dirs[name]! }, { readyTimeoutMs: 60_000 }));
  }
  // A second frontend that sends downloads to the store itself (IMG_S3_PUBLIC_ENDPOINT).
  const port = new URL((await stackEnv()).IMG_PUBLIC_URL).port;
  presigningBase = `http://127.0.0.1:${port}`;
  dirs.presigning = await tempDir('img-frontend2-');
  presigning = await startService('frontend', {
    ...env, IMG_DATA_DIR: dirs.presigning, IMG_HTTP_PORT: port, IMG_PUBLIC_URL: presigningBase, IMG_S3_PUBLIC_ENDPOINT: testEnv.s3Endpoint, IMG_METRICS_PORT: '0',
  });
});

after(async () => {
  await Promise.all([...services, presigning].filter(Boolean).map((s) => s.stop()));
  await store?.drop();
  for (const d of [...Object.values(dirs), env?.IMG_DATA_DIR]) if (d) await rm(d, { recursive: true, force: true });
});

/** Every file under a folder (the services' own data directories must hold no job file). */
function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) files(join(dir, e.name), out);
    else out.push(join(dir, e.name));
  }
  return out;
}

test('form to email through the object store, each service with a data directory of its own', async () => {
  const base = env.IMG_PUBLIC_URL;
  const email = uniqueEmail('s3');
  const marker = `s3-${Date.now()}`;
  const ks = ['%packages', 'hostname', '%end', '%post', 'for i in 1 2 3 4 5 6; do echo "slow step $i"; sleep 1; done', `echo ${marker} > /etc/img-marker`, '%end', ''].join('\n');
  const job = await submit(base, email, ks);

  // The live log, from the broker, while the build runs on a host that shares no folder with the frontend.
  const log = await followLog(base, job, 10 * 60_000);
  assert.match(log.whileRunning, /slow step \d/, 'the %post\'s output was seen before the job ended');
  const done = await finished(base, job, 60_000);
  assert.equal(done.status, 'done', done.error);
  const whole = await (await fetch(`${base}/job/${job.id}/log?token=${job.token}`)).text();
  assert.equal(log.text, whole, 'the log followed by offsets is the stored log, byte for byte');
  assert.match(whole, /slow step 6/);
  assert.match(whole, /IMG built img-/);

  // The image, streamed from the store by the frontend: whole and by range.
  const got = await download(base, job);
  assert.equal(got.status, 200);
  assert.equal(got.body.length, done.size);
  assert.equal(createHash('sha256').update(got.body).digest('hex'), done.sha256);
  const dir = await tempDir();
  try {
    const file = join(dir, done.imagefile!);
    await import('node:fs/promises').then((fs) => fs.writeFile(file, got.body));
    assert.equal(execFileSync('tar', ['--zstd', '-xOf', file, './etc/img-marker'], { encoding: 'utf8' }).trim(), marker);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const part = await download(base, job, 'bytes=100-1123');
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1123/${done.size}`);
  assert.ok(part.body.equals(got.body.subarray(100, 1124)));

  // From the frontend that knows the store's public address: a redirect to a presigned URL.
  const redirect = await fetch(`${presigningBase}/images/${job.id}`, { headers: { authorization: `Bearer ${job.token}` }, redirect: 'manual' });
  assert.equal(redirect.status, 302);
  const location = redirect.headers.get('location') ?? '';
  assert.ok(location.startsWith(`${testEnv.s3Endpoint}/`), location);
  assert.doesNotMatch(location, new RegExp(job.token), 'the job\'s token does not leave for the store');
  const direct = Buffer.from(await (await fetch(location)).arrayBuffer());
  assert.ok(direct.equals(got.body), 'the presigned URL serves the same bytes');

  // One email, and the frontend knows it from the notifier's email_status message.
  await waitFor('the email recorded as sent', async () => (await jobOf(base, job)).email_status?.state === 'sent', { timeoutMs: 60_000 });
  await queueDrained(queues.notify, { timeoutMs: 30_000 });
  const mails = await mailsTo(email);
  assert.equal(mails.length, 1, 'exactly one email');
  assert.ok(mails[0]!.text.includes(`${base}/images/${job.id}?token=${job.token}`));

  // Everything of the job is in the store, nothing in any service's own folder.
  const keys: string[] = [];
  for await (const o of store.storage.list(`images/${job.id}/`)) keys.push(o.key);
  assert.deepEqual(keys.sort(), [`images/${job.id}/${done.imagefile}`, `images/${job.id}/manifest.json`, `images/${job.id}/result.json`].sort());
  assert.equal((await store.storage.stat(`logs/${job.id}.log`))?.size, Buffer.byteLength(whole));
  for (const [name, d] of Object.entries(dirs)) {
    const left = files(d).filter((f) => f.includes(job.id));
    assert.deepEqual(left, [], `${name} keeps no file of the job`);
  }
  // The live log's stream went with the job.
  const conn = await amqp.connect(testEnv.amqpUrl);
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await assert.rejects(ch.checkQueue(logStreamName(job.id)), /404/);
  await conn.close().catch(() => {});
});
