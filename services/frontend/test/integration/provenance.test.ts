// Provenance, the whole path with nothing mocked: tar, fs and raw builds in the Docker sandbox, its package
// manifest checked against the archive's own dpkg status, the SBOM checked by the SPDX project's
// validator (pyspdxtools, installed by deploy/local/up.sh), the SHA256SUMS checked by sha256sum and
// its signature by Debian's gpg against the key the service publishes; a tampered file or list is
// caught. Also: a job without a manifest gets a 404 that says why, and a signing key that cannot
// be used stops the frontend at start, naming the setting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launch } from '../support/browser.ts';
import { decompressedImage, mailsTo, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

const spdxTools = process.env.IMG_TEST_SPDX_TOOLS ?? join(process.env.IMG_CACHE_DIR ?? '/var/cache/img', 'spdx-tools', 'bin', 'pyspdxtools');
let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let dir: string;

before(async () => {
  const probe = spawnSync(spdxTools, ['--help'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `the SPDX validator is not at ${spdxTools}: install it with deploy/local/up.sh (a virtualenv under IMG_CACHE_DIR), or name it in IMG_TEST_SPDX_TOOLS`);
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  // The boot check is tested elsewhere (bootable-images); the manifest does not depend on it.
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '900', IMG_VERIFY_BOOT: 'false' });
  for (const name of ['image-creator', 'notifier', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  dir = await tempDir('img-provenance-');
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const auth = (job: Json) => ({ authorization: `Bearer ${job.token}` });

const TAR_KS = '%packages\nhostname\n%end\n%post\necho provenance > /etc/provenance-test\n%end\n';

async function submit(email: string, imagetype = 'tar', kickstart = TAR_KS): Promise<Json> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, imagetype, kickstart }),
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

/** Downloads a job's file into the test's folder under `name`; returns its bytes. */
async function download(path: string, job: Json | undefined, name: string): Promise<Buffer> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}${path}`, { headers: job ? auth(job) : {} });
  assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
  const buf = Buffer.from(await res.arrayBuffer());
  await writeFile(join(dir, name), buf);
  return buf;
}

async function finished(job: Json): Promise<Json> {
  return waitFor(`job ${job.id} to finish`, async () => {
    const r = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: auth(job) })).json()) as Json;
    return ['done', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  }, { timeoutMs: 15 * 60_000, intervalMs: 1000 });
}

const run = (cmd: string, args: string[], extra: Record<string, string> = {}) => spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...extra } });

test('a built image has a manifest equal to its dpkg status, a valid SPDX SBOM, and a signed SHA256SUMS that gpg and sha256sum check', async () => {
  const email = uniqueEmail('provenance');
  const job = await submit(email);
  const done = await finished(job);
  assert.equal(done.status, 'done', `the build failed: ${done.error}`);

  // Without the token, none of it.
  for (const p of [`/api/v1/jobs/${job.id}/manifest`, `/images/${job.id}/sbom.spdx.json`, `/images/${job.id}/SHA256SUMS`, `/images/${job.id}/SHA256SUMS.sign`]) {
    assert.equal((await fetch(`${env.IMG_PUBLIC_URL}${p}`)).status, 401, p);
  }

  // The manifest lists what dpkg says is installed in the archive, after the %post.
  const manifest = JSON.parse((await download(`/api/v1/jobs/${job.id}/manifest`, job, 'api-manifest.json')).toString()) as Json;
  const image = await download(`/images/${job.id}`, job, done.imagefile);
  const status = execFileSync('bash', ['-c', `zstd -dc "${done.imagefile}" | tar -xOf - ./var/lib/dpkg/status`], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const installed = status.split('\n\n').filter((s) => /^Status: install ok installed$/m.test(s)).map((s) => /^Package: (.+)$/m.exec(s)![1]!).sort();
  assert.ok(installed.length > 50, `the archive lists ${installed.length} installed packages`);
  assert.deepEqual(manifest.packages.map((p: Json) => p.name).sort(), installed);
  const hostname = manifest.packages.find((p: Json) => p.name === 'hostname');
  assert.equal(hostname.architecture, 'amd64');
  const libc = manifest.packages.find((p: Json) => p.name === 'libc6');
  assert.equal(libc.source, 'glibc', 'a binary package names its source package');
  assert.equal(done.size, image.length);

  // The SBOM: valid under the SPDX project's own validator, a purl for every package.
  const sbom = JSON.parse((await download(`/images/${job.id}/sbom.spdx.json`, job, 'sbom.spdx.json')).toString()) as Json;
  const validated = run(spdxTools, ['-i', 'sbom.spdx.json']);
  assert.equal(validated.status, 0, `pyspdxtools: ${validated.stdout}${validated.stderr}`);
  assert.doesNotMatch(validated.stdout + validated.stderr, /invalid|error/i);
  const purls = sbom.packages.flatMap((p: Json) => (p.externalRefs ?? []).map((r: Json) => r.referenceLocator));
  assert.equal(purls.length, manifest.packages.length);
  assert.ok(purls.includes(`pkg:deb/debian/hostname@${encodeURIComponent(hostname.version)}?arch=amd64&distro=${manifest.suite}`), purls.slice(0, 3).join(' '));

  // SHA256SUMS covers the image as downloaded, the manifest and the SBOM: sha256sum -c passes on the downloads.
  await download(`/images/${job.id}/manifest.json`, job, 'manifest.json');
  const sums = (await download(`/images/${job.id}/SHA256SUMS`, job, 'SHA256SUMS')).toString();
  assert.deepEqual(sums.trim().split('\n').map((l) => l.split('  ')[1]).sort(), [done.imagefile, 'manifest.json', 'sbom.spdx.json'].sort());
  const checked = run('sha256sum', ['-c', 'SHA256SUMS']);
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  // A modified file is caught.
  const original = await readFile(join(dir, 'manifest.json'));
  await writeFile(join(dir, 'manifest.json'), original.toString().replace('"hostname"', '"hostnamf"'));
  const modified = run('sha256sum', ['-c', 'SHA256SUMS']);
  assert.notEqual(modified.status, 0);
  assert.match(modified.stdout, /manifest\.json: FAILED/);
  await writeFile(join(dir, 'manifest.json'), original);

  // The signature: Debian's gpg, with only the key /signing-key.asc serves.
  await download(`/images/${job.id}/SHA256SUMS.sign`, job, 'SHA256SUMS.sign');
  await download('/signing-key.asc', undefined, 'signing-key.asc');
  const gnupg = await tempDir('img-gnupg-');
  try {
    const gpg = (args: string[]) => run('gpg', ['--batch', '--no-tty', ...args], { GNUPGHOME: gnupg });
    assert.equal(gpg(['--import', 'signing-key.asc']).status, 0);
    const good = gpg(['--status-fd', '1', '--verify', 'SHA256SUMS.sign', 'SHA256SUMS']);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /\[GNUPG:\] GOODSIG/);
    const fpr = /\[GNUPG:\] VALIDSIG ([0-9A-F]{40})/.exec(good.stdout)?.[1];
    // The fingerprint the index page shows is the one that signed.
    const index = await (await fetch(`${env.IMG_PUBLIC_URL}/`)).text();
    assert.match(index, new RegExp(fpr!.replace(/(.{4})(?!$)/g, '$1 ')), 'the index page shows the signing key\'s fingerprint');
    // A tampered SHA256SUMS (another checksum for the image) fails the check.
    await writeFile(join(dir, 'SHA256SUMS'), sums.replace(/^[0-9a-f]/, (c) => (c === '0' ? '1' : '0')));
    const bad = gpg(['--status-fd', '1', '--verify', 'SHA256SUMS.sign', 'SHA256SUMS']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /\[GNUPG:\] BADSIG/);
  } finally {
    await rm(gnupg, { recursive: true, force: true });
  }

  // The job page lists the packages with a search box; the email links all four files.
  const page = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${job.id}?token=${job.token}`)).text();
  assert.match(page, /<input type="search" id="package-filter"/);
  assert.equal((page.match(/<tr><td>/g) ?? []).length, manifest.packages.length);
  // In a real browser, typing in the search box leaves only the matching rows.
  const browser = await launch('laptop');
  try {
    const tab = await browser.context.newPage();
    await tab.goto(`${env.IMG_PUBLIC_URL}/job/${job.id}?token=${job.token}`);
    await tab.fill('#package-filter', 'libc6');
    await tab.locator('#package-shown', { hasText: 'shown' }).waitFor();
    const visible = await tab.locator('#package-list tbody tr:visible').allTextContents();
    const expected = manifest.packages.filter((p: Json) => [p.name, p.version, p.architecture, p.source, p.source_version].join(' ').toLowerCase().includes('libc6'));
    assert.ok(visible.length > 0 && visible.length < manifest.packages.length, `${visible.length} rows shown`);
    assert.equal(visible.length, expected.length);
    assert.ok(visible.every((t) => t.toLowerCase().includes('libc6')));
  } finally {
    await browser.close();
  }
  // The same request again is answered from this build: it gets the manifest under its own id, never the first job's.
  const again = await submit(uniqueEmail('provenance-again'));
  const reused = await finished(again);
  assert.equal(reused.status, 'done');
  const copy = JSON.parse((await download(`/api/v1/jobs/${again.id}/manifest`, again, 'again-manifest.json')).toString()) as Json;
  assert.equal(copy.job, again.id);
  assert.deepEqual(copy.packages, manifest.packages);
  assert.doesNotMatch(JSON.stringify(copy) + (await download(`/images/${again.id}/sbom.spdx.json`, again, 'again-sbom.json')).toString(), new RegExp(job.id));

  const mail = await waitFor('the success email', async () => (await mailsTo(email)).find((m) => /ready/.test(m.subject)), { timeoutMs: 60_000, intervalMs: 500 });
  for (const p of [`/api/v1/jobs/${job.id}/manifest?token=`, `/images/${job.id}/sbom.spdx.json?token=`, `/images/${job.id}/SHA256SUMS?token=`, `/images/${job.id}/SHA256SUMS.sign?token=`]) {
    assert.ok(mail.text.includes(`${env.IMG_PUBLIC_URL}${p}`), `the email links ${p}`);
  }
});

test('raw: the manifest lists exactly what `dpkg -l` shows installed in the disk\'s root file system, and SHA256SUMS holds the disk\'s checksum', async () => {
  const job = await submit(uniqueEmail('provenance-raw'), 'raw', 'part / --size=1024 --fstype=ext4\n%packages\nhostname\n%end\n');
  const done = await finished(job);
  assert.equal(done.status, 'done', `the build failed: ${done.error}`);
  const manifest = JSON.parse((await download(`/api/v1/jobs/${job.id}/manifest`, job, 'raw-manifest.json')).toString()) as Json;
  // The disk as the store keeps it (the same bytes the download serves; a 1 GiB download is spared), decompressed.
  const disk = decompressedImage(join(env.IMG_DATA_DIR, 'images', job.id, done.imagefile));
  const table = JSON.parse(execFileSync('sfdisk', ['--json', disk], { encoding: 'utf8' })) as { partitiontable: { sectorsize?: number; partitions: Array<{ start: number; type: string }> } };
  const root = table.partitiontable.partitions.find((p) => p.type === '83');
  assert.ok(root, 'the disk has a Linux partition');
  const admin = join(dir, 'raw-dpkg');
  await mkdir(join(admin, 'info'), { recursive: true });
  await mkdir(join(admin, 'updates'), { recursive: true });
  execFileSync('debugfs', ['-R', `dump /var/lib/dpkg/status ${join(admin, 'status')}`, `${disk}?offset=${root.start * (table.partitiontable.sectorsize ?? 512)}`], { stdio: 'ignore' });
  const listed = execFileSync('dpkg-query', [`--admindir=${admin}`, '-l'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '300' } });
  const installed = listed.split('\n').filter((l) => l.startsWith('ii ')).map((l) => l.split(/\s+/)[1]!.replace(/:[a-z0-9]+$/, '')).sort();
  assert.ok(installed.includes('linux-image-amd64') && installed.includes('hostname'), `dpkg -l lists ${installed.length} packages`);
  assert.equal(manifest.packages.length, installed.length);
  assert.deepEqual(manifest.packages.map((p: Json) => p.name).sort(), installed);
  const sums = (await download(`/images/${job.id}/SHA256SUMS`, job, 'raw-SHA256SUMS')).toString();
  assert.match(sums, new RegExp(`^${done.sha256}  ${done.imagefile.replace(/\./g, '\\.')}$`, 'm'));
  const sbom = await download(`/images/${job.id}/sbom.spdx.json`, job, 'raw-sbom.spdx.json');
  const validated = run(spdxTools, ['-i', 'raw-sbom.spdx.json']);
  assert.equal(validated.status, 0, `pyspdxtools: ${validated.stdout}${validated.stderr}`);
  assert.ok(sbom.includes('pkg:deb/debian/linux-image-amd64@'));
});

test('a job without a manifest gets a 404 that says why', async () => {
  // A request of its own (an identical one would be answered at once from the first test's build).
  const job = await submit(uniqueEmail('provenance-none'), 'tar', `${TAR_KS}%post\necho ${Date.now()}\n%end\n`);
  const cancel = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: auth(job) });
  assert.equal(cancel.status, 200);
  for (const p of [`/api/v1/jobs/${job.id}/manifest`, `/images/${job.id}/sbom.spdx.json`, `/images/${job.id}/SHA256SUMS.sign`]) {
    const res = await fetch(`${env.IMG_PUBLIC_URL}${p}`, { headers: { ...auth(job), accept: 'application/json' } });
    assert.equal(res.status, 404, p);
    assert.match(((await res.json()) as Json).error.message, /no package manifest: the job was cancelled/);
  }
});

test('a %post that breaks dpkg\'s database fails the build for want of a manifest, rather than giving an empty one', async () => {
  const ks = '%packages\nhostname\n%end\n%post\nprintf "Package: not a name\\nStatus: install ok installed\\nVersion: 1\\n\\n" >> /var/lib/dpkg/status\n%end\n';
  const job = await submit(uniqueEmail('provenance-broken'), 'tar', ks);
  const done = await finished(job);
  assert.equal(done.status, 'failed');
  assert.equal(done.error_code, 'build_output_invalid');
  assert.match(done.error, /no package manifest/);
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${job.id}/log`, { headers: auth(job) })).text();
  assert.match(log, /dpkg's database in the image \(\/var\/lib\/dpkg\/status\) cannot be read/);
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}/manifest`, { headers: { ...auth(job), accept: 'application/json' } });
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as Json).error.message, /no package manifest: the build failed/);
});

test('a signing key that cannot be read, or has no secret part, stops the frontend at start naming IMG_SIGNING_KEY', async () => {
  await writeFile(join(dir, 'public-only.asc'), await (await fetch(`${env.IMG_PUBLIC_URL}/signing-key.asc`)).text());
  for (const [key, why] of [[join(dir, 'missing.asc'), /cannot be read/], [join(dir, 'public-only.asc'), /holds no OpenPGP secret key/]] as const) {
    const other = await stackEnv({ IMG_SIGNING_KEY: key });
    await assert.rejects(startService('frontend', other), (err: Error) => /exited with 1/.test(err.message) && /IMG_SIGNING_KEY/.test(err.message) && why.test(err.message));
    await rm(other.IMG_DATA_DIR, { recursive: true, force: true });
  }
});

test('fs: the file system archive has a manifest equal to its dpkg status, a valid SBOM, and a signed SHA256SUMS; a changed sum is caught', async () => {
  const job = await submit(uniqueEmail('provenance-fs'), 'fs');
  const done = await finished(job);
  assert.equal(done.status, 'done', `the build failed: ${done.error}`);
  const manifest = JSON.parse((await download(`/images/${job.id}/manifest.json`, job, 'fs-manifest.json')).toString()) as Json;
  await download(`/images/${job.id}`, job, done.imagefile);
  const status = execFileSync('bash', ['-c', `zstd -dc "${done.imagefile}" | tar -xOf - ./var/lib/dpkg/status`], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const installed = status.split('\n\n').filter((s) => /^Status: install ok installed$/m.test(s)).map((s) => /^Package: (.+)$/m.exec(s)![1]!).sort();
  assert.ok(installed.length > 50);
  assert.deepEqual(manifest.packages.map((p: Json) => p.name).sort(), installed);
  await download(`/images/${job.id}/sbom.spdx.json`, job, 'fs-sbom.spdx.json');
  const validated = run(spdxTools, ['-i', 'fs-sbom.spdx.json']);
  assert.equal(validated.status, 0, `pyspdxtools: ${validated.stdout}${validated.stderr}`);
  const sums = (await download(`/images/${job.id}/SHA256SUMS`, job, 'fs-SHA256SUMS')).toString();
  assert.match(sums, new RegExp(`^${done.sha256}  ${done.imagefile.replace(/\./g, '\\.')}$`, 'm'));
  await download(`/images/${job.id}/SHA256SUMS.sign`, job, 'fs-SHA256SUMS.sign');
  await download('/signing-key.asc', undefined, 'fs-signing-key.asc');
  const gnupg = await tempDir('img-gnupg-fs-');
  try {
    const gpg = (args: string[]) => run('gpg', ['--batch', '--no-tty', ...args], { GNUPGHOME: gnupg });
    assert.equal(gpg(['--import', 'fs-signing-key.asc']).status, 0);
    const good = gpg(['--status-fd', '1', '--verify', 'fs-SHA256SUMS.sign', 'fs-SHA256SUMS']);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /\[GNUPG:\] GOODSIG/);
    await writeFile(join(dir, 'fs-SHA256SUMS'), sums.replace(done.sha256, done.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0'))));
    const bad = gpg(['--status-fd', '1', '--verify', 'fs-SHA256SUMS.sign', 'fs-SHA256SUMS']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /\[GNUPG:\] BADSIG/);
  } finally {
    await rm(gnupg, { recursive: true, force: true });
  }
});
