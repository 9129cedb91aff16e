// A .zst delivery as the frontend and the `img` command handle it, against the real frontend, RabbitMQ
// and the database, without a build: the store gets a zstd-compressed disk and the link message
// image-creator would publish for it. The API and the job page give both sizes and sums; the .zst is
// served in ranges; SHA256SUMS and /sha256 check the download with sha256sum -c and the decompressed
// disk by their comment line; `img download` decompresses and checks both sums, refuses a disk whose
// sum is not the one recorded, and keeps the .zst with --keep-compressed. (The same with a real build,
// boot-checked: image-creator/test/integration/compressed-delivery.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routes, type Broker } from '@img/shared/broker';
import { linkMessage } from '@img/shared/contracts';
import { repoRoot, stackEnv, tempDir, uniqueEmail, waitFor } from '@img/shared/testing';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let broker: Broker;
let base: string;
let stack: FrontendStack | undefined;
let dir: string;

before(async () => {
  stack = await startFrontendStack('compressed-download', {});
  ({ env, base, broker } = stack);
  dir = await tempDir('img-zst-dl-');
});
after(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const auth = (job: Json) => ({ authorization: `Bearer ${job.token}` });

/** A raw job whose build left `disk` as a .zst, as image-creator stores and reports it; `recorded` overrides the disk's sum. */
async function builtRaw(disk: Buffer, recorded?: string): Promise<Json & { zst: Buffer; filename: string }> {
  const email = uniqueEmail('zst');
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, imagetype: 'raw', kickstart: 'part / --size=1024 --fstype=ext4\n%packages\nhostname\n%end\n' }),
  });
  const job = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(job));
  const filename = `img-${job.id.slice(0, 12)}-raw.raw.zst`;
  const zst = execFileSync('zstd', ['-q', '-c'], { input: disk, maxBuffer: 64 << 20 });
  const folder = join(env.IMG_DATA_DIR, 'images', job.id);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, filename), zst);
  await writeFile(join(folder, 'manifest.json'), `${JSON.stringify({ format: 'img-manifest/1', job: job.id, arch: 'amd64', created: new Date().toISOString(), packages: [] })}\n`);
  await broker.publish(routes.link, linkMessage, {
    id: job.id, url: `${base}/images/${job.id}`, email, imagetype: 'raw', filename, size: zst.length, sha256: sha(zst),
    duration_s: 30, logurl: `${base}/job/${job.id}/log`, compression: 'zstd', disk_size: disk.length, disk_sha256: recorded ?? sha(disk), packages: 0,
  });
  await waitFor('the job to be done', async () => ((await (await fetch(`${base}/api/v1/jobs/${job.id}`, { headers: auth(job) })).json()) as Json).status === 'done', { timeoutMs: 10_000 });
  return { ...job, email, zst, filename };
}

// A disk as a build leaves it: mostly zeros, some data.
const disk = Buffer.concat([randomBytes(256 << 10), Buffer.alloc(16 << 20), randomBytes(64 << 10), Buffer.alloc(8 << 20)]);

test('the API and the job page give the download\'s size and sha256 and the decompressed disk\'s', async () => {
  const job = await builtRaw(disk);
  const j = (await (await fetch(`${base}/api/v1/jobs/${job.id}`, { headers: auth(job) })).json()) as Json;
  assert.equal(j.imagefile, job.filename);
  assert.equal(j.size, job.zst.length);
  assert.equal(j.sha256, sha(job.zst));
  assert.equal(j.compression, 'zstd');
  assert.equal(j.disk_size, disk.length);
  assert.equal(j.disk_sha256, sha(disk));
  const page = await (await fetch(`${base}/job/${job.id}`, { headers: auth(job) })).text();
  assert.match(page, /to download, <span class="disk-size">24\.\d MiB<\/span> on disk/);
  assert.ok(page.includes(sha(disk)) && page.includes(sha(job.zst)), 'both sums on the page');
});

test('the .zst is served in ranges: a download broken halfway resumes to the same bytes', async () => {
  const job = await builtRaw(disk);
  const url = `${base}/images/${job.id}`;
  const half = Math.floor(job.zst.length / 2);
  const first = await fetch(url, { headers: { ...auth(job), range: `bytes=0-${half - 1}` } });
  assert.equal(first.status, 206);
  assert.equal(first.headers.get('content-range'), `bytes 0-${half - 1}/${job.zst.length}`);
  const head = Buffer.from(await first.arrayBuffer());
  const rest = await fetch(url, { headers: { ...auth(job), range: `bytes=${half}-`, 'if-range': first.headers.get('etag')! } });
  assert.equal(rest.status, 206);
  assert.ok(Buffer.concat([head, Buffer.from(await rest.arrayBuffer())]).equals(job.zst));
});

test('SHA256SUMS and /sha256 check the .zst with sha256sum -c --strict, and the decompressed disk by their comment line', async () => {
  const job = await builtRaw(disk);
  const work = join(dir, job.id);
  await mkdir(work);
  const sums = await (await fetch(`${base}/images/${job.id}/SHA256SUMS`, { headers: auth(job) })).text();
  const one = await (await fetch(`${base}/images/${job.id}/sha256`, { headers: auth(job) })).text();
  const diskName = job.filename.replace(/\.zst$/, '');
  await writeFile(join(work, job.filename), job.zst);
  for (const [name, list] of [['SHA256SUMS', sums.split('\n').filter((l) => !/\.json$/.test(l)).join('\n')], [`${job.filename}.sha256`, one]] as const) {
    await writeFile(join(work, name), list);
    const downloaded = spawnSync('sha256sum', ['-c', '--strict', name], { cwd: work, encoding: 'utf8' });
    assert.equal(downloaded.status, 0, `${name}: ${downloaded.stdout}${downloaded.stderr}\n${list}`);
    assert.equal(downloaded.stdout, `${job.filename}: OK\n`);
  }
  execFileSync('zstd', ['-q', '-d', job.filename, '-o', diskName], { cwd: work });
  for (const name of ['SHA256SUMS', `${job.filename}.sha256`]) {
    const decompressed = spawnSync('bash', ['-c', `sed -n 's/^# //p' ${name} | sha256sum -c --strict`], { cwd: work, encoding: 'utf8' });
    assert.equal(decompressed.status, 0, `${name}: ${decompressed.stdout}${decompressed.stderr}`);
    assert.equal(decompressed.stdout, `${diskName}: OK\n`);
  }
  // The comment line can fail: a different disk under that name does.
  await writeFile(join(work, diskName), Buffer.concat([disk.subarray(0, 100), Buffer.from('x'), disk.subarray(101)]));
  assert.notEqual(spawnSync('bash', ['-c', "sed -n 's/^# //p' SHA256SUMS | sha256sum -c --strict"], { cwd: work }).status, 0);
});

const img = (job: Json, ...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'cli/bin/img.js'), 'download', job.id, '--token', job.token, '--server', base, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });

test('`img download` decompresses as it downloads and checks both sums; --keep-compressed saves the .zst', async () => {
  const job = await builtRaw(disk);
  const r = img(job, '-o', join(dir, 'disk.raw'));
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`sha256 ${sha(disk)}  ${disk.length} bytes, decompressed from ${job.zst.length} bytes .*both checksums verified`));
  assert.ok((await readFile(join(dir, 'disk.raw'))).equals(disk));
  const k = img(job, '--keep-compressed', '-o', join(dir, 'kept.raw.zst'));
  assert.equal(k.status, 0, `${k.stdout}${k.stderr}`);
  assert.ok((await readFile(join(dir, 'kept.raw.zst'))).equals(job.zst));
});

test('`img download` refuses a decompressed disk whose sum is not the one recorded, and leaves no file', async () => {
  const job = await builtRaw(disk, sha(Buffer.from('another disk')));
  const r = img(job, '-o', join(dir, 'wrong.raw'));
  assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /the decompressed image is not the one built/);
  assert.equal(existsSync(join(dir, 'wrong.raw')) || existsSync(join(dir, 'wrong.raw.part')), false);
});
