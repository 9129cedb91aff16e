// Every disk and ISO type, built through the service from one small kickstart and booted: the
// frontend's API takes the jobs, image-creator builds each in its sandbox and boots it in QEMU in a
// second sandbox, and the job records the check. The files are then checked from outside with the
// tools a user has: `img verify`, qemu-img, e2fsck, debugfs. Nothing is mocked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decompressedImage, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { BOOT_MARKER, bootMarkerPost } from '../support/boot-marker.ts';

const spdxTools = process.env.IMG_TEST_SPDX_TOOLS ?? join(process.env.IMG_CACHE_DIR ?? '/var/cache/img', 'spdx-tools', 'bin', 'pyspdxtools');
let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let scratch: string;
/** Jobs submitted in `before`, so the builds run while earlier tests look at earlier images. */
const jobs = new Map<string, string>();

const MARKER = BOOT_MARKER;

/**
 * Nothing but the root partition and a %post: the builder adds the kernel and the init itself.
 * Without the marker, the service's boot check waits for a login prompt instead.
 */
function kickstart(tag: string, opts: { marker?: boolean } = {}): string {
  if (opts.marker === false) return kickstart(tag).split('\n%post\n')[0]!.concat(`\n%post\necho ${tag} > /etc/img-test-tag\n%end\n`);
  return [
    'network --hostname=img-boot-test',
    'part / --size=1024 --fstype=ext4',
    'bootloader --timeout=1 --append="img.test=on"',
    '',
    '%post',
    `echo ${tag} > /etc/img-test-tag`,
    // A unit that prints the marker on the serial console once the system is up.
    ...bootMarkerPost('ttyS0'),
    '%end',
    '',
  ].join('\n');
}

interface ApiJob {
  id: string; status: string; error?: string; error_code?: string; imagefile?: string; size?: number; disk_size?: number;
  verified?: { ok: boolean; detail: string; seconds: number };
  history: Array<{ status: string; at?: string }>;
}

/** Each job's token, from its submission: the frontend shows a job in full only with it. */
const tokens = new Map<string, string>();
const owner = (id: string) => ({ authorization: `Bearer ${tokens.get(id) ?? ''}` });

async function submit(imagetype: string, ks: string): Promise<string> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: uniqueEmail(`boot-${imagetype}`), imagetype, kickstart: ks }),
  });
  const body = (await res.json()) as { id?: string; token?: string };
  assert.equal(res.status, 201, `submit answered ${res.status}: ${JSON.stringify(body)}`);
  tokens.set(body.id!, body.token!);
  return body.id!;
}

async function job(id: string): Promise<ApiJob> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', ...owner(id) } });
  assert.equal(res.status, 200);
  return (await res.json()) as ApiJob;
}

async function finished(type: string): Promise<ApiJob> {
  const id = jobs.get(type)!;
  return waitFor(`the ${type} job to finish`, async () => {
    const j = await job(id);
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 15 * 60_000, intervalMs: 2000 });
}

/** A finished job's image. Read from the data directory: the download route is the frontend's, tested there. */
async function builtImage(type: string): Promise<{ job: ApiJob; file: string; log: string }> {
  const j = await finished(type);
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${j.id}/log`, { headers: owner(j.id) })).text();
  assert.equal(j.status, 'done', `the ${type} job ended ${j.status}: ${j.error_code}: ${j.error}\n${log.split('\n').slice(-40).join('\n')}`);
  assert.ok(j.imagefile);
  // A raw, loop or ISO image is stored as a .zst: the tools below read the image itself.
  return { job: j, file: decompressedImage(join(env.IMG_DATA_DIR, 'images', j.id, j.imagefile)), log };
}

function img(...args: string[]): { code: number | null; stdout: string; stderr: string; seconds: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['cli/bin/img.js', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 420_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

/** Booted by the service with the kickstart's marker required, and recorded on the job. */
function assertVerifiedByService(j: ApiJob, log: string): void {
  assert.ok(j.verified, 'the job records the boot check');
  assert.equal(j.verified.ok, true);
  assert.match(j.verified.detail, new RegExp(`the marker "${MARKER}" appeared on the serial console`));
  assert.match(log, /IMG: boot check passed/);
  assert.match(log, new RegExp(`^${MARKER}`, 'm'), 'the serial console is in the job log');
}

before(async () => {
  const probe = spawnSync(spdxTools, ['--help'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `the SPDX validator is not at ${spdxTools}: install it with deploy/local/up.sh (a virtualenv under IMG_CACHE_DIR), or name it in IMG_TEST_SPDX_TOOLS`);
  // Idempotent and quick when the image is there; rebuilds it when the recipe changed.
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  scratch = await tempDir('img-boot-');
  env = await stackEnv({
    IMG_BUILD_TIMEOUT_S: '900',
    // Two at once: one build downloads while the other compresses or boots.
    IMG_BUILD_CONCURRENCY: '2',
    IMG_VERIFY_BOOT: 'true',
    // An emulated boot (no KVM here) takes about a minute on a quiet machine and several on a loaded one.
    IMG_VERIFY_TIMEOUT_S: '600',
    IMG_SUBMIT_RATE_LIMIT: '100',
  });
  for (const name of ['image-creator', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  // The refused one first, so it is not queued behind the builds.
  jobs.set('no-root', await submit('raw', kickstart('no-root').replace('part / --size=1024 --fstype=ext4\n', '')));
  for (const type of ['raw', 'livecd', 'loop', 'qcow2', 'vmdk', 'vdi', 'liveusb']) {
    jobs.set(type, await submit(type, kickstart(`built-as-${type}`, { marker: type !== 'vdi' })));
  }
  jobs.set('too-small', await submit('loop', kickstart('too-small').replace('--size=1024', '--size=40')));
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('a raw build without `part /` is refused with an error naming it', async () => {
  const id = jobs.get('no-root')!;
  const j = await waitFor('the job to fail', async () => {
    const x = await job(id);
    return x.status === 'failed' ? x : undefined;
  }, { timeoutMs: 10 * 60_000, intervalMs: 500 });
  assert.equal(j.error_code, 'invalid_kickstart');
  assert.match(j.error ?? '', /part \/ --size=/);
  assert.match(j.error ?? '', /root partition/);
});

test('raw: the kernel and init are added, the disk boots to the %post marker in the service, and `img verify` passes on it', async () => {
  const { job: j, file, log } = await builtImage('raw');
  assert.match(log, /IMG: adding linux-image-amd64 to the packages/);
  assert.match(log, /IMG: adding systemd-sysv to the packages/);
  assertVerifiedByService(j, log);
  assert.match(log, /Command line: .*root=UUID=[0-9a-f-]{36} ro console=ttyS0,115200 console=tty0 img\.test=on/, 'the kernel got the --append');
  assert.match(log, /^boot: $/m, 'syslinux waited for its --timeout');
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
  assert.equal(info.format, 'raw');
  const table = execFileSync('sfdisk', ['--dump', file], { encoding: 'utf8' });
  assert.match(table, /label: dos/);
  assert.match(table, /type=ef, bootable/);
  assert.match(table, /type=83/);

  const r = img('verify', file, '--marker', MARKER, '--timeout', '300');
  assert.equal(r.code, 0, `img verify: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`^PASS: the marker "${MARKER}" appeared`, 'm'));
  console.log(`raw: service boot check ${j.verified?.seconds} s, img verify ${r.seconds} s`);
});

test('raw, UEFI: the same disk boots with OVMF through GRUB on the boot partition', async () => {
  const { file } = await builtImage('raw');
  const r = img('verify', file, '--uefi', '--marker', MARKER, '--timeout', '300');
  assert.equal(r.code, 0, `img verify --uefi: ${r.stdout}${r.stderr}`);
  console.log(`raw UEFI: img verify ${r.seconds} s`);
});

test('img verify on a disk whose marker never appears fails within its limit and shows the last console lines', async () => {
  const { file } = await builtImage('raw');
  const r = img('verify', file, '--marker', 'THIS-NEVER-APPEARS', '--timeout', '40');
  assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  assert.ok(r.seconds < 40 + 20, `took ${r.seconds} s`);
  assert.match(r.stdout, /^FAIL: no "THIS-NEVER-APPEARS" on the serial console within 40 s/m);
  const tail = r.stdout.split('last lines of the serial console:\n')[1] ?? '';
  assert.ok(tail.split('\n').filter((l) => l.startsWith('  | ')).length >= 5, `the console tail is shown:\n${r.stdout}`);
});

test('qcow2: the converted disk is a qcow2 image and boots to its marker', async () => {
  const { job: j, file, log } = await builtImage('qcow2');
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string };
  assert.equal(info.format, 'qcow2');
  assertVerifiedByService(j, log);
  const r = img('verify', file, '--marker', MARKER, '--timeout', '300');
  assert.equal(r.code, 0, `img verify: ${r.stdout}${r.stderr}`);
});

for (const type of ['vmdk', 'vdi']) {
  const what = type === 'vdi' ? 'a login prompt (its kickstart prints no marker)' : 'its marker';
  test(`${type}: qemu-img reads it as ${type}, and it booted to ${what} in the service`, async () => {
    const { job: j, file, log } = await builtImage(type);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
    assert.equal(info.format, type);
    assert.ok(info['virtual-size'] > 1024 * 1024 * 1024, `virtual size ${info['virtual-size']}`);
    execFileSync('qemu-img', ['check', '-f', type, file], { stdio: 'ignore' });
    if (type === 'vmdk') {
      assertVerifiedByService(j, log);
    } else {
      assert.ok(j.verified?.ok, 'the job records the boot check');
      assert.match(j.verified.detail, /^a login prompt \("img-boot-test login:"\) appeared on the serial console/);
      assert.match(log, /waiting up to 600 s for a login prompt/);
    }
  });
}

test('loop: an ext4 file system of exactly part / --size that e2fsck finds clean, with the %post file in it', async () => {
  const { job: j, file, log } = await builtImage('loop');
  // Delivered as a .zst: the file system image itself is the decompressed one.
  assert.equal(j.disk_size, 1024 * 1024 * 1024);
  assert.ok(j.size !== undefined && j.size < 1024 * 1024 * 1024 / 4, `the .zst (${j.size} bytes) is a fraction of it`);
  assert.equal(j.verified, undefined, 'a file system image is not booted');
  assert.doesNotMatch(log, /IMG: adding linux-image-amd64/, 'no kernel is forced into a file system image');
  execFileSync('e2fsck', ['-fn', file], { stdio: 'pipe' });
  const tag = execFileSync('debugfs', ['-R', 'cat /etc/img-test-tag', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(tag.trim(), 'built-as-loop');
  const fstab = execFileSync('debugfs', ['-R', 'cat /etc/fstab', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const uuid = /UUID:\s+(\S+)/.exec(execFileSync('dumpe2fs', ['-h', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1];
  assert.match(fstab, new RegExp(`^UUID=${uuid}\\s+/\\s+ext4`, 'm'), 'the fstab mounts this file system as /');
  // The serial console's getty waits for its device as long as a slow (emulated) boot takes, not 90 s.
  const wait = execFileSync('debugfs', ['-R', 'cat /etc/systemd/system/dev-ttyS0.device.d/img-console-wait.conf', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(wait, /^JobRunningTimeoutSec=15min$/m);
});

test('loop: a root file system larger than part / --size fails with the size it needs', async () => {
  const j = await finished('too-small');
  assert.equal(j.status, 'failed');
  assert.equal(j.error_code, 'invalid_kickstart');
  const need = Number(/needs about (\d+) MiB, raise --size/.exec(j.error ?? '')?.[1]);
  assert.ok(need > 40 && need < 1024, `the error names the size needed: ${j.error}`);
});

test('livecd: a hybrid ISO with live-boot added that boots into the live system to its marker', async () => {
  const { job: j, file, log } = await builtImage('livecd');
  assert.match(log, /IMG: adding live-boot to the packages/);
  assertVerifiedByService(j, log);
  const listing = execFileSync('xorriso', ['-indev', file, '-find', '/live', '-exec', 'lsdl'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(listing, /filesystem\.squashfs/);
  assert.match(log, /Kernel command line: .*boot=live console=ttyS0,115200 console=tty0 img\.test=on/);
});

test('liveusb: the hybrid ISO, booted by the service as a disk the way a USB stick boots, reaches its marker', async () => {
  const { job: j, file, log } = await builtImage('liveusb');
  assertVerifiedByService(j, log);
  // The isohybrid MBR is what makes the ISO bootable as a disk.
  const mbr = execFileSync('sfdisk', ['--dump', file], { encoding: 'utf8' });
  assert.match(mbr, /label: dos/);
  assert.match(log, /^ISOLINUX /m, 'booted through the MBR into isolinux');
});

/** The frontend's answer for a job's file, with its owner's token. */
async function owned(path: string, id: string): Promise<Buffer> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}${path}`, { headers: owner(id) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The packages dpkg lists as installed (`dpkg-query -l`, state ii) in the image file `file` of `type`,
 * read from its dpkg database with the tools a person has: debugfs on the ext4 root (a disk converted
 * to raw by qemu-img first, the root partition found by sfdisk), unsquashfs on a live ISO's squashfs.
 */
function installedByDpkg(type: string, file: string, work: string): string[] {
  const admin = join(work, `dpkg-${type}`);
  execFileSync('mkdir', ['-p', join(admin, 'info'), join(admin, 'updates')]);
  const status = join(admin, 'status');
  if (type === 'loop') {
    execFileSync('debugfs', ['-R', `dump /var/lib/dpkg/status ${status}`, file], { stdio: 'ignore' });
  } else if (type.startsWith('live')) {
    const sqfs = join(work, `${type}.squashfs`);
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', file, '-extract', '/live/filesystem.squashfs', sqfs], { stdio: 'ignore' });
    execFileSync('bash', ['-c', 'unsquashfs -cat "$1" var/lib/dpkg/status > "$2"', '_', sqfs, status]);
    execFileSync('rm', ['-f', sqfs]);
  } else {
    const disk = type === 'raw' ? file : join(work, `${type}.raw`);
    if (type !== 'raw') execFileSync('qemu-img', ['convert', '-O', 'raw', file, disk]);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', disk], { encoding: 'utf8' })) as { partitiontable: { sectorsize?: number; partitions: Array<{ start: number; type: string }> } };
    const root = table.partitiontable.partitions.find((p) => p.type === '83');
    assert.ok(root, `${type}: the disk has a Linux partition`);
    execFileSync('debugfs', ['-R', `dump /var/lib/dpkg/status ${status}`, `${disk}?offset=${root.start * (table.partitiontable.sectorsize ?? 512)}`], { stdio: 'ignore' });
    if (type !== 'raw') execFileSync('rm', ['-f', disk]);
  }
  const listed = execFileSync('dpkg-query', [`--admindir=${admin}`, '-l'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '300' } });
  return listed.split('\n').filter((l) => l.startsWith('ii ')).map((l) => l.split(/\s+/)[1]!.replace(/:[a-z0-9]+$/, '')).sort();
}

test('every disk and ISO type: a manifest listing exactly what dpkg -l shows in the image, an SBOM the SPDX validator accepts, a SHA256SUMS of the file as downloaded that gpg verifies, and a modified file or list caught', async () => {
  const key = await owned('/signing-key.asc', jobs.get('loop')!);
  const work = await tempDir('img-boot-provenance-');
  try {
    await writeFile(join(work, 'signing-key.asc'), key);
    const gpg = (args: string[]) => spawnSync('gpg', ['--batch', '--no-tty', ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, GNUPGHOME: work } });
    assert.equal(gpg(['--import', 'signing-key.asc']).status, 0);
    for (const type of ['raw', 'loop', 'qcow2', 'vmdk', 'vdi', 'livecd', 'liveusb']) {
      const j = await finished(type);
      assert.equal(j.status, 'done', `${type}: ${j.error}`);
      const dir = join(work, type);
      await mkdir(dir);
      const manifestBytes = await owned(`/images/${j.id}/manifest.json`, j.id);
      await writeFile(join(dir, 'manifest.json'), manifestBytes);
      const manifest = JSON.parse(manifestBytes.toString()) as { job: string; packages: Array<{ name: string }> };
      assert.equal(manifest.job, j.id);
      const names = manifest.packages.map((p) => p.name);
      // A file system image gets no kernel; every bootable type has the one the build added.
      if (type === 'loop') assert.ok(!names.includes('linux-image-amd64'), `${type}: no kernel`);
      else assert.ok(names.includes('linux-image-amd64'), `${type}: the manifest lists the kernel`);
      if (type.startsWith('live')) assert.ok(names.includes('live-boot'), `${type}: the manifest lists live-boot`);
      const installed = installedByDpkg(type, decompressedImage(join(env.IMG_DATA_DIR, 'images', j.id, j.imagefile!)), work);
      assert.ok(installed.length > 50, `${type}: dpkg -l lists ${installed.length} packages`);
      assert.deepEqual([...names].sort(), installed, `${type}: the manifest lists what dpkg -l shows in the image`);

      await writeFile(join(dir, 'sbom.spdx.json'), await owned(`/images/${j.id}/sbom.spdx.json`, j.id));
      const validated = spawnSync(spdxTools, ['-i', join(dir, 'sbom.spdx.json')], { encoding: 'utf8' });
      assert.equal(validated.status, 0, `${type}: pyspdxtools: ${validated.stdout}${validated.stderr}`);

      // SHA256SUMS names the file as it is downloaded (a .zst for raw, loop and ISO images) with its sum.
      const sums = (await owned(`/images/${j.id}/SHA256SUMS`, j.id)).toString();
      const stored = await sha256Of(join(env.IMG_DATA_DIR, 'images', j.id, j.imagefile!));
      assert.match(sums, new RegExp(`^${stored}  ${j.imagefile!.replace(/\./g, '\\.')}$`, 'm'), `${type}: ${sums}`);
      await writeFile(join(dir, 'SHA256SUMS'), sums);
      await writeFile(join(dir, 'SHA256SUMS.sign'), await owned(`/images/${j.id}/SHA256SUMS.sign`, j.id));
      const good = gpg(['--status-fd', '1', '--verify', join(dir, 'SHA256SUMS.sign'), join(dir, 'SHA256SUMS')]);
      assert.equal(good.status, 0, `${type}: ${good.stdout}${good.stderr}`);
      assert.match(good.stdout, /\[GNUPG:\] GOODSIG/);
      // The manifest and SBOM as downloaded pass sha256sum -c; one changed byte in the manifest fails it.
      const check = () => spawnSync('sha256sum', ['-c', '--ignore-missing', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
      const ok = check();
      assert.equal(ok.status, 0, `${type}: ${ok.stdout}${ok.stderr}`);
      assert.match(ok.stdout, /manifest\.json: OK/);
      assert.match(ok.stdout, /sbom\.spdx\.json: OK/);
      await writeFile(join(dir, 'manifest.json'), (await readFile(join(dir, 'manifest.json'))).toString().replace('"linux-image-', '"linux-imagf-').replace('"base-files"', '"base-filez"'));
      const modified = check();
      assert.notEqual(modified.status, 0, `${type}: a modified manifest is caught`);
      assert.match(modified.stdout, /manifest\.json: FAILED/);
      // A SHA256SUMS with another sum for the image fails the signature check.
      await writeFile(join(dir, 'SHA256SUMS'), sums.replace(stored, stored.replace(/^./, (c) => (c === '0' ? '1' : '0'))));
      const bad = gpg(['--status-fd', '1', '--verify', join(dir, 'SHA256SUMS.sign'), join(dir, 'SHA256SUMS')]);
      assert.notEqual(bad.status, 0, `${type}: a changed SHA256SUMS is caught`);
      assert.match(bad.stdout, /\[GNUPG:\] BADSIG/);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
