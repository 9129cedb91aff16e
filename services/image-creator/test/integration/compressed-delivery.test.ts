// Compressed delivery, the whole path with nothing mocked: a raw disk and a qcow2 built from one
// small kickstart, each boot-checked by the service. The raw disk leaves the sandbox as a .zst, which
// the host unpacks to count, hash and boot (the job's log shows the order), and it decompresses to
// exactly the image the job names (size and sha256); the qcow2 is compressed inside (qemu-img check counts compressed
// clusters). The .zst is served in ranges (a broken download resumes), `img download` decompresses
// it as it downloads, SHA256SUMS checks both forms, and the job page and the email give both sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mailsTo, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { BOOT_MARKER, bootMarkerPost } from '../support/boot-marker.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let dir: string;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const submitted = new Map<string, Json & { email: string }>();
const auth = (job: Json) => ({ authorization: `Bearer ${job.token}` });

const MARKER = BOOT_MARKER;
// The smallest bootable request: the builder adds the kernel and init; a unit prints the marker.
const KS = ['part / --size=1024 --fstype=ext4', 'bootloader --timeout=1', '%post', ...bootMarkerPost('ttyS0'), '%end', ''].join('\n');

async function submit(imagetype: string): Promise<void> {
  const email = uniqueEmail(`compressed-${imagetype}`);
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, imagetype, kickstart: KS }),
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(body));
  submitted.set(imagetype, { ...body, email });
}

async function finished(imagetype: string): Promise<{ job: Json; done: Json; log: string }> {
  const job = submitted.get(imagetype)!;
  const done = await waitFor(`the ${imagetype} job to finish`, async () => {
    const r = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: auth(job) })).json()) as Json;
    return ['done', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  }, { timeoutMs: 40 * 60_000, intervalMs: 2000 });
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${job.id}/log`, { headers: auth(job) })).text();
  assert.equal(done.status, 'done', `the ${imagetype} build ended ${done.status}: ${done.error_code}: ${done.error}\n${log.split('\n').slice(-30).join('\n')}`);
  return { job, done, log };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  // The boot check emulates a PC: on a busy 2-core host two at once take minutes to reach systemd.
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '1200', IMG_BUILD_CONCURRENCY: '2', IMG_VERIFY_BOOT: 'true', IMG_VERIFY_TIMEOUT_S: '900' });
  for (const name of ['image-creator', 'notifier', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  dir = await tempDir('img-compressed-');
  await submit('raw');
  await submit('qcow2');
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('raw: boot-checked, then kept as a .zst a quarter of the disk or less, which decompresses to the size and sha256 the job records', async () => {
  const { done, log } = await finished('raw');
  assert.equal(done.verified?.ok, true, 'the service booted the disk');
  // The sandbox compressed the disk; the host unpacked that .zst, counted and hashed what it holds,
  // and booted the disk it unpacked: the one the download decompresses to.
  const compressed = log.search(/^IMG: compressed with zstd to \d+ bytes in [\d.]+ s$/m);
  const counted = log.indexOf(`IMG: the image is ${done.disk_size} bytes, sha256 ${done.disk_sha256}: unpacked and counted by the host`);
  const booted = log.indexOf('IMG: boot check passed');
  assert.ok(compressed > 0 && counted > compressed && booted > counted, `the log shows the compression, the host's count, then the boot check:\n${log.split('\n').slice(-30).join('\n')}`);
  assert.equal(done.compression, 'zstd');
  assert.match(done.imagefile, /\.raw\.zst$/);
  assert.match(done.disk_sha256, /^[0-9a-f]{64}$/);
  const stored = join(env.IMG_DATA_DIR, 'images', done.id, done.imagefile);
  assert.equal((await stat(stored)).size, done.size, 'size is the file as downloaded');
  assert.equal(await sha256File(stored), done.sha256);
  const disk = join(dir, 'disk.raw');
  execFileSync('zstd', ['-q', '-d', stored, '-o', disk]);
  assert.equal((await stat(disk)).size, done.disk_size, 'disk_size is the decompressed image');
  assert.equal(await sha256File(disk), done.disk_sha256);
  assert.match(execFileSync('sfdisk', ['--dump', disk], { encoding: 'utf8' }), /type=83/, 'the decompressed file is the partitioned disk');
  assert.ok(done.size * 4 <= done.disk_size, `the download (${done.size} bytes) is at most a quarter of the disk (${done.disk_size} bytes)`);
  console.log(`raw: download ${done.size} bytes, disk ${done.disk_size} bytes (${(100 * done.size / done.disk_size).toFixed(1)} %); ${/compressed with zstd to .*$/m.exec(log)?.[0]}`);
});

test('raw: the .zst is served in ranges, so a broken download resumes to the same bytes', async () => {
  const { job, done } = await finished('raw');
  const url = `${env.IMG_PUBLIC_URL}/images/${job.id}`;
  const half = Math.floor(done.size / 2);
  const first = await fetch(url, { headers: { ...auth(job), range: `bytes=0-${half - 1}` } });
  assert.equal(first.status, 206);
  assert.equal(first.headers.get('content-range'), `bytes 0-${half - 1}/${done.size}`);
  const etag = first.headers.get('etag')!;
  const head = Buffer.from(await first.arrayBuffer());
  const rest = await fetch(url, { headers: { ...auth(job), range: `bytes=${half}-`, 'if-range': etag } });
  assert.equal(rest.status, 206);
  const tail = Buffer.from(await rest.arrayBuffer());
  assert.equal(head.length + tail.length, done.size);
  assert.equal(createHash('sha256').update(head).update(tail).digest('hex'), done.sha256, 'the two halves are the .zst');
});

test('raw: `img download` decompresses as it downloads and checks both sums; --keep-compressed keeps the .zst', async () => {
  const { job, done } = await finished('raw');
  const img = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'cli/bin/img.js'), 'download', job.id, '--token', job.token, '--server', env.IMG_PUBLIC_URL, ...args], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
  const r = img('-o', join(dir, 'via-cli.raw'));
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /both checksums verified/);
  assert.equal(await sha256File(join(dir, 'via-cli.raw')), done.disk_sha256);
  const k = img('--keep-compressed', '-o', join(dir, 'via-cli.raw.zst'));
  assert.equal(k.status, 0, `${k.stdout}${k.stderr}`);
  assert.equal(await sha256File(join(dir, 'via-cli.raw.zst')), done.sha256);
});

test('raw: SHA256SUMS checks the .zst with sha256sum -c, and its comment line the decompressed disk; page and email give both sizes', async () => {
  const { job, done } = await finished('raw');
  const sums = await (await fetch(`${env.IMG_PUBLIC_URL}/images/${job.id}/SHA256SUMS`, { headers: auth(job) })).text();
  assert.ok(sums.includes(`${done.sha256}  ${done.imagefile}\n`), sums);
  const diskName = done.imagefile.replace(/\.zst$/, '');
  assert.ok(sums.includes(`\n# ${done.disk_sha256}  ${diskName}\n`), sums);
  // The page and the email first: the synchronous tools below hold the event loop for seconds, and a
  // kept-alive connection the frontend closed meanwhile would be reused by the next fetch.
  const page = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${job.id}`, { headers: auth(job) })).text();
  assert.match(page, /to download, <span class="disk-size">[^<]+<\/span> on disk/);
  assert.ok(page.includes(done.disk_sha256), 'the page shows the decompressed sha256');
  const mail = await waitFor('the success email', async () => (await mailsTo(job.email)).find((m) => /ready/.test(m.subject)), { timeoutMs: 60_000, intervalMs: 500 });
  assert.match(mail.text, /Size: .* to download \(zstd\), .* on disk/);
  assert.ok(mail.text.includes(`${diskName}, SHA-256 ${done.disk_sha256}`), mail.text);

  // The downloaded .zst beside its list: sha256sum skips the comment lines; the decompressed disk by the comment.
  await writeFile(join(dir, 'SHA256SUMS'), sums.split('\n').filter((l) => !l.includes('.json') || l.startsWith('#')).join('\n'));
  execFileSync('cp', [join(env.IMG_DATA_DIR, 'images', done.id, done.imagefile), join(dir, done.imagefile)]);
  const plain = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  assert.equal(plain.status, 0, `${plain.stdout}${plain.stderr}`);
  assert.match(plain.stdout, new RegExp(`${done.imagefile.replace(/\./g, '\\.')}: OK`));
  execFileSync('zstd', ['-q', '-d', done.imagefile, '-o', diskName], { cwd: dir });
  const decompressed = spawnSync('bash', ['-c', "sed -n 's/^# //p' SHA256SUMS | sha256sum -c --strict"], { cwd: dir, encoding: 'utf8' });
  assert.equal(decompressed.status, 0, `${decompressed.stdout}${decompressed.stderr}`);
  assert.match(decompressed.stdout, new RegExp(`${diskName.replace(/\./g, '\\.')}: OK`));

});

test('qcow2: compressed by qemu-img inside (compressed clusters), still a qcow2 that the service booted', async () => {
  const { done } = await finished('qcow2');
  assert.equal(done.verified?.ok, true, 'the service booted the compressed qcow2');
  assert.equal(done.compression, 'qcow2');
  assert.match(done.imagefile, /\.qcow2$/);
  const file = join(env.IMG_DATA_DIR, 'images', done.id, done.imagefile);
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
  assert.equal(info.format, 'qcow2');
  const check = execFileSync('qemu-img', ['check', file], { encoding: 'utf8' });
  const pct = Number(/([\d.]+)% compressed clusters/.exec(check)?.[1] ?? 0);
  assert.ok(pct > 50, `most clusters are compressed: ${check}`);
  assert.ok(done.size * 4 <= info['virtual-size'], `the qcow2 (${done.size} bytes) is at most a quarter of its disk (${info['virtual-size']} bytes)`);
  console.log(`qcow2: ${done.size} bytes for a ${info['virtual-size']}-byte disk, ${pct} % of clusters compressed`);
});
