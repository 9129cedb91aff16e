// arm64 images built on this amd64 machine, through the whole service: the frontend's API takes the
// jobs with `arch: arm64`, image-creator installs the root file system under user-mode emulation
// (binfmt_misc) and boots each disk and ISO type in qemu-system-aarch64 on the `virt` machine with
// Debian's arm64 UEFI firmware, and the notifier mails the outcome. Checked as a user would: the
// programs in the tar are aarch64 ELF files, the disks are GPT with an EFI system partition holding
// BOOTAA64.EFI, each booted to its login prompt or marker, `img verify` tells the architecture by
// itself, and the job page, the API record and the email say arm64. Nothing is mocked.
//
// Every bootable job lists the same packages (live-boot too, which a disk image ignores unless told
// `boot=live`): the first build installs them under emulation, and the others start from its root
// file system in the cache, as two requests with the same packages do in production.
// test-runner: long
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decompressedImage, mailsTo, purgeAllQueues, repoRoot, stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { BOOT_MARKER, bootMarkerPost } from '../support/boot-marker.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
/** type → job id, submitted in `before` so the builds run one after another while tests look at earlier ones. */
const jobs = new Map<string, string>();
const tokens = new Map<string, string>();
const emails = new Map<string, string>();
const MARKER = BOOT_MARKER;

/** One package set for every job; with `marker`, a unit prints the marker on the PL011 serial console. */
function kickstart(tag: string, opts: { marker?: boolean } = {}): string {
  const lines = [
    'network --hostname=img-arm64-test',
    'part / --size=1200 --fstype=ext4',
    'bootloader --timeout=1 --append="img.test=arm64"',
    '%packages',
    'linux-image-arm64',
    'systemd-sysv',
    'live-boot',
    // What the builder adds to a bootable image (for the initramfs): named here too, so the tar's
    // package set is the raw's, and the tar starts from the raw's installed root.
    'zstd',
    '%end',
    '%post',
    `echo ${tag} > /etc/img-test-tag`,
  ];
  if (opts.marker) {
    lines.push(...bootMarkerPost('ttyAMA0'));
  }
  lines.push('%end', '');
  return lines.join('\n');
}

interface ApiJob {
  id: string; status: string; arch?: string; suite?: string; error?: string; error_code?: string; imagefile?: string;
  verified?: { ok: boolean; detail: string; seconds: number };
}

async function submit(key: string, imagetype: string, ks: string, arch = 'arm64'): Promise<string> {
  const email = uniqueEmail(`arm64-${key}`);
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, imagetype, kickstart: ks, arch }),
  });
  const body = (await res.json()) as { id?: string; token?: string; arch?: string };
  assert.equal(res.status, 201, `submit answered ${res.status}: ${JSON.stringify(body)}`);
  assert.equal(body.arch, arch, 'the answer names the architecture');
  tokens.set(body.id!, body.token!);
  emails.set(body.id!, email);
  jobs.set(key, body.id!);
  return body.id!;
}

const owner = (id: string) => ({ authorization: `Bearer ${tokens.get(id) ?? ''}` });

async function job(id: string): Promise<ApiJob> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', ...owner(id) } });
  assert.equal(res.status, 200);
  return (await res.json()) as ApiJob;
}

async function finished(key: string): Promise<ApiJob> {
  const id = jobs.get(key)!;
  // Under emulation: the first build installs a kernel and systemd for arm64, the others wait for it.
  return waitFor(`the ${key} job to finish`, async () => {
    const j = await job(id);
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 60 * 60_000, intervalMs: 3000 });
}

async function logOf(id: string): Promise<string> {
  return (await fetch(`${env.IMG_PUBLIC_URL}/job/${id}/log`, { headers: owner(id) })).text();
}

async function built(key: string): Promise<{ job: ApiJob; file: string; log: string }> {
  const j = await finished(key);
  const log = await logOf(j.id);
  assert.equal(j.status, 'done', `the ${key} job ended ${j.status}: ${j.error_code}: ${j.error}\n${log.split('\n').slice(-50).join('\n')}`);
  assert.equal(j.arch, 'arm64');
  // A disk or ISO is stored as a .zst: the tools below read the image itself.
  return { job: j, file: decompressedImage(join(env.IMG_DATA_DIR, 'images', j.id, j.imagefile!)), log };
}

function img(...args: string[]): { code: number | null; stdout: string; stderr: string; seconds: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['cli/bin/img.js', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 1_000_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

/** Booted in the service on arm64's virt machine: the serial console of the job's log shows it. */
function assertBootedArm64(j: ApiJob, log: string, what: 'marker' | 'login', from: 'disk' | 'live' = 'disk'): void {
  assert.ok(j.verified?.ok, 'the job records a passed boot check');
  assert.match(j.verified.detail, what === 'marker' ? new RegExp(`the marker "${MARKER}" appeared`) : /a login prompt \("img-arm64-test login:"\) appeared/);
  assert.match(log, /IMG: boot check passed/);
  assert.match(log, /EFI stub: Booting Linux Kernel/, 'GRUB started the arm64 kernel through its EFI stub');
  assert.match(log, /Machine model: linux,dummy-virt|ACPI: SPCR: console: pl011/, 'on QEMU\'s virt machine');
  // A disk mounts its root read-only first; a live system's root is live-boot's, and has no `ro`.
  assert.match(log, from === 'disk' ? /Kernel command line: .*ro console=ttyAMA0,115200 img\.test=arm64/ : /Kernel command line: .*boot=live console=ttyAMA0,115200 img\.test=arm64/,
    'the arm64 serial console, and the kickstart\'s --append');
}

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({
    IMG_BUILD_TIMEOUT_S: '3600',
    IMG_BUILD_CONCURRENCY: '1',
    IMG_VERIFY_BOOT: 'true',
    // An emulated arm64 boot takes 1–2 minutes on an idle machine, and several times that on a loaded one.
    IMG_VERIFY_TIMEOUT_S: '900',
  });
  for (const name of ['image-creator', 'frontend', 'notifier']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  // In the order they run: the raw build installs, the rest start from its root file system.
  await submit('raw', 'raw', kickstart('built-as-raw', { marker: true }));
  await submit('amd64-only', 'tar', '%packages\ngrub-pc\n%end\n');
  await submit('tar', 'tar', kickstart('built-as-tar'));
  await submit('qcow2', 'qcow2', kickstart('built-as-qcow2'));
  await submit('vmdk', 'vmdk', kickstart('built-as-vmdk', { marker: true }));
  await submit('vdi', 'vdi', kickstart('built-as-vdi'));
  await submit('livecd', 'livecd', kickstart('built-as-livecd', { marker: true }));
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

test('arm64 raw: a GPT disk with an EFI system partition holding GRUB\'s BOOTAA64.EFI, booted under qemu-system-aarch64 to its marker', async () => {
  const { job: j, file, log } = await built('raw');
  assert.match(log, /IMG: Debian trixie, arm64/);
  assert.match(log, /IMG: building for arm64 on amd64: its programs run under user-mode emulation/);
  assert.match(log, /IMG: making the initramfs/, 'the initramfs is made once, at the end');
  assertBootedArm64(j, log, 'marker');
  const table = execFileSync('sfdisk', ['--dump', file], { encoding: 'utf8' });
  assert.match(table, /label: gpt/);
  assert.match(table, /type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=[0-9A-F-]+, name="EFI"/, 'an EFI system partition');
  const esp = /start=\s*(\d+), size=\s*(\d+), type=C12A7328/.exec(table)!;
  const listing = execFileSync('mdir', ['-i', `${file}@@${Number(esp[1]) * 512}`, '-b', '-/', '::/EFI/BOOT'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  assert.match(listing, /BOOTAA64\.EFI/);
  assert.doesNotMatch(listing, /BOOTX64\.EFI/);

  // The user's tool tells the architecture from the image and boots it the same way.
  const r = img('verify', file, '--marker', MARKER, '--timeout', '900');
  assert.equal(r.code, 0, `img verify: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /img verify: arm64: its EFI system partition holds EFI\/BOOT\/BOOTAA64\.EFI/);
  assert.match(r.stderr, /in qemu-system-aarch64/);
  console.log(`arm64 raw: service boot check ${j.verified?.seconds} s, img verify ${r.seconds} s`);
});

test('arm64: the job page, the API record and the email say arm64', async () => {
  const { job: j } = await built('raw');
  assert.equal(j.suite, 'trixie');
  const page = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${j.id}`, { headers: owner(j.id) })).text();
  assert.match(page, /<dt>Architecture<\/dt><dd class="arch">arm64<\/dd>/);
  // The public view too: an architecture is no secret.
  const pub = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${j.id}`, { headers: { accept: 'application/json' } })).json()) as ApiJob;
  assert.equal(pub.arch, 'arm64');
  const mail = await waitFor('the success email', async () => (await mailsTo(emails.get(j.id)!))[0], { timeoutMs: 60_000 });
  assert.match(mail.text, /^Arch: +arm64$/m);
  assert.match(mail.html, /<td>Architecture<\/td><td>arm64<\/td>/);
});

test('arm64: a package built for amd64 only fails before anything is installed, with an error that names it, its line and the architecture', async () => {
  // Submitted before any arm64 package index was read: the build checks the packages against it first.
  const j = await finished('amd64-only');
  assert.equal(j.status, 'failed');
  assert.equal(j.error_code, 'invalid_kickstart');
  assert.match(j.error ?? '', /^kickstart line 2: package 'grub-pc' is not in Debian trixie .*for arm64/);
});

test('arm64 tar: the programs in the archive are aarch64 ELF files, and its build-info says arm64', async () => {
  const { job: j, file, log } = await built('tar');
  assert.match(log, /IMG: cache: installed root file system \w+ of an earlier build with the same packages and repositories is used/);
  const elf = execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -xOf - ./usr/bin/dpkg | head -c 64 | od -An -tx1 -v', 'elf', file], { encoding: 'utf8' })
    .trim().split(/\s+/).map((h) => parseInt(h, 16));
  assert.deepEqual(elf.slice(0, 4), [0x7f, 0x45, 0x4c, 0x46], '/usr/bin/dpkg is an ELF file');
  assert.equal(elf[4], 2, 'of 64 bits');
  assert.equal(elf[18]! | (elf[19]! << 8), 183, 'for EM_AARCH64');
  const info = execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -xOf - ./etc/img/build-info', 'info', file], { encoding: 'utf8' });
  assert.match(info, /^ARCHITECTURE=arm64$/m);
  assert.match(info, /^SUITE=trixie$/m);
  // Its manifest and SBOM say arm64 too: every package is arm64 or all, with arm64 purls.
  const manifest = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${j.id}/manifest`, { headers: owner(j.id) })).json()) as { arch: string; packages: Array<{ name: string; architecture: string }> };
  assert.equal(manifest.arch, 'arm64');
  assert.ok(manifest.packages.length > 50);
  assert.deepEqual([...new Set(manifest.packages.map((p) => p.architecture))].sort(), ['all', 'arm64']);
  assert.ok(manifest.packages.some((p) => p.name === 'linux-image-arm64'), 'the kickstart\'s kernel is listed');
  const sbom = await (await fetch(`${env.IMG_PUBLIC_URL}/images/${j.id}/sbom.spdx.json`, { headers: owner(j.id) })).text();
  assert.match(sbom, /pkg:deb\/debian\/dpkg@[^"]+\?arch=arm64/);
});

test('arm64 qcow2, vmdk and vdi: converted disks that qemu-img reads, each booted in the service', async () => {
  for (const [type, what] of [['qcow2', 'login'], ['vmdk', 'marker'], ['vdi', 'login']] as const) {
    const { job: j, file, log } = await built(type);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string };
    assert.equal(info.format, type);
    assertBootedArm64(j, log, what);
    console.log(`arm64 ${type}: service boot check ${j.verified?.seconds} s`);
  }
  // img verify reads a converted disk's first part to tell its architecture.
  const { file } = await built('qcow2');
  const r = img('verify', file, '--timeout', '900');
  assert.equal(r.code, 0, `img verify: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /img verify: arm64: its EFI system partition holds EFI\/BOOT\/BOOTAA64\.EFI/);
});

test('arm64 livecd: an EFI-only ISO with live-boot, booted from a virtio SCSI CD into the live system', async () => {
  const { job: j, file, log } = await built('livecd');
  assertBootedArm64(j, log, 'marker', 'live');
  assert.match(log, /Kernel command line: .*boot=live console=ttyAMA0,115200/);
  const report = execFileSync('xorriso', ['-indev', file, '-report_el_torito', 'plain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(report, /El Torito boot img : +1 +UEFI/);
  assert.doesNotMatch(report, /BIOS/, 'no BIOS boot entry: arm64 has none');
});
