// The rules around bootable images that need no Docker or QEMU: what each type adds to the
// package set and requires of the kickstart, how the console is read, how a file's format is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKickstart } from '@img/shared/kickstart';
import { prepareBuild } from '../../src/image-types.ts';
import { AAVMF_PATH, ConsoleWatcher, DEFAULT_MARKER, detectImage, qemuArgs, qemuBinary } from '@img/shared/boot';
import { emulationState } from '../../src/emulation.ts';

function plan(ks: string) {
  const r = parseKickstart(ks);
  assert.deepEqual(r.errors, []);
  return r.plan!;
}

test('a disk type gets a kernel and an init when the kickstart has none, and says so', () => {
  const p = plan('part / --size=900 --fstype=ext4\nbootloader --timeout=3 --append="quiet"\n%packages\nvim\n%end\n');
  const r = prepareBuild(p, 'raw', p.packages.include);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.include, ['vim', 'linux-image-amd64', 'systemd-sysv', 'zstd']);
  assert.equal(r.notes.length, 3);
  assert.match(r.notes[2]!, /zstd/, 'the initramfs is compressed with zstd, which needs the program in the image');
  assert.match(r.notes[0]!, /linux-image-amd64/);
  assert.deepEqual(r.env, { IMG_BOOT_APPEND: 'quiet', IMG_BOOT_APPEND_GRUB: "'quiet'", IMG_BOOT_TIMEOUT: '3', IMG_ROOT_SIZE_MIB: '900', IMG_ROOT_FSTYPE: 'ext4' });
});

test('a kernel or init the kickstart chose is kept, and an excluded one is not forced back', () => {
  const p = plan('part / --size=900\n%packages\nlinux-image-cloud-amd64\n-systemd-sysv\nsysvinit-core\n%end\n');
  const r = prepareBuild(p, 'qcow2', p.packages.include);
  assert.deepEqual(r.include, ['linux-image-cloud-amd64', 'sysvinit-core', 'zstd']);
  assert.equal(r.notes.length, 1);
  const noZstd = plan('part / --size=900\n%packages\nlinux-image-cloud-amd64\n-zstd\n%end\n');
  assert.ok(!prepareBuild(noZstd, 'raw', noZstd.packages.include).include.includes('zstd'), 'an excluded zstd is not forced back');
});

test('live types add live-boot and need no partition; file system and archive types add nothing', () => {
  const p = plan('%packages\nvim\n%end\n');
  const live = prepareBuild(p, 'livecd', p.packages.include);
  assert.equal(live.error, undefined);
  assert.deepEqual(live.include, ['vim', 'linux-image-amd64', 'systemd-sysv', 'zstd', 'live-boot']);
  assert.deepEqual(prepareBuild(p, 'tar', p.packages.include).include, ['vim']);
  const withRoot = plan('part / --size=700\n%packages\nvim\n%end\n');
  assert.deepEqual(prepareBuild(withRoot, 'loop', withRoot.packages.include).include, ['vim']);
});

test('disk and file system types refuse a kickstart without part /, or with a root they cannot write', () => {
  const none = plan('%packages\nvim\n%end\n');
  for (const type of ['loop', 'raw', 'qcow2', 'vmdk', 'vdi'] as const) {
    assert.match(prepareBuild(none, type, []).error ?? '', /needs a root partition: add a line such as `part \/ --size=/);
  }
  assert.match(prepareBuild(plan('part / --size=900 --fstype=xfs\n'), 'raw', []).error ?? '', /--fstype=xfs/);
  // `part / --grow` without a size is a kickstart anaconda takes; a disk needs the size.
  assert.match(prepareBuild(plan('part / --grow\n'), 'raw', []).error ?? '', /needs|give it, e\.g\. `part \/ --size=2048`/);
  assert.equal(prepareBuild(plan('part / --grow\n'), 'tar', []).error, undefined);
});

/** Read through a call, so an assertion on one state does not narrow the type for the next. */
const seen = (w: ConsoleWatcher) => w.found;

test('the console watcher finds the marker across chunks, and a login prompt only without an explicit marker', () => {
  const strict = new ConsoleWatcher('MY-MARK');
  strict.push(Buffer.from('\x1b[0;32m  OK  \x1b[0m booting\r\ndebian login: '));
  assert.equal(seen(strict), undefined, 'an explicit marker ignores login prompts');
  strict.push(Buffer.from('\r\nMY-'));
  strict.push(Buffer.from('MARK\r\n'));
  assert.equal(seen(strict)?.what, 'marker');

  const loose = new ConsoleWatcher(undefined);
  loose.push(Buffer.from('Starting systemd-logind.service - User Login Management...\n'));
  assert.equal(seen(loose), undefined);
  loose.push(Buffer.from('\nDebian GNU/Linux 12 host ttyS0\n\nhost login: '));
  assert.deepEqual(seen(loose), { what: 'login', line: 'host login:' });
  const marker = new ConsoleWatcher(undefined);
  marker.push(Buffer.from(`x\n${DEFAULT_MARKER}\n`));
  assert.equal(marker.found?.what, 'marker');
  assert.deepEqual(marker.tail(), ['x', DEFAULT_MARKER]);
});

test('the image format is told from the first bytes, a qcow2 backing file is noticed, and QEMU is told the format', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'img-detect-'));
  try {
    const write = (name: string, bytes: Buffer) => { writeFileSync(join(dir, name), bytes); return join(dir, name); };
    const qcow = Buffer.alloc(512);
    qcow.write('QFI\xfb', 0, 'latin1');
    assert.deepEqual(await detectImage(write('a.qcow2', qcow)), { format: 'qcow2', media: 'disk', backingFile: false });
    qcow.writeBigUInt64BE(512n, 8);
    assert.equal((await detectImage(write('b.qcow2', qcow))).backingFile, true);
    const vdi = Buffer.alloc(512);
    vdi.writeUInt32LE(0xbeda107f, 0x40);
    assert.equal((await detectImage(write('c.vdi', vdi))).format, 'vdi');
    assert.equal((await detectImage(write('d.vmdk', Buffer.from('KDMV\x01\x00\x00\x00', 'latin1')))).format, 'vmdk');
    const iso = Buffer.alloc(0x9000);
    iso.write('CD001', 0x8001, 'latin1');
    assert.deepEqual(await detectImage(write('e.iso', iso)), { format: 'raw', media: 'cdrom', backingFile: false });
    assert.deepEqual(await detectImage(write('f.raw', Buffer.alloc(100))), { format: 'raw', media: 'disk', backingFile: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const args = qemuArgs({ format: 'vdi', media: 'disk' }, '/a,b.vdi');
  assert.ok(args.includes('file=/a,,b.vdi,format=vdi,if=virtio'));
  assert.ok(args.includes('-snapshot') && args.includes('-no-reboot'));
  assert.deepEqual(args.slice(args.indexOf('-nic'), args.indexOf('-nic') + 2), ['-nic', 'none']);
  assert.ok(!args.some((a) => /kvm/.test(a)), 'emulation only');
});

test('an arm64 disk gets the arm64 kernel, and boots on QEMU\'s virt machine with arm64 UEFI firmware, its CD on virtio SCSI', () => {
  const p = parseKickstart('part / --size=900\n%packages\nvim\n%end\n', { arch: 'arm64' }).plan!;
  assert.equal(p.architecture, 'arm64');
  assert.deepEqual(prepareBuild(p, 'raw', p.packages.include).include, ['vim', 'linux-image-arm64', 'systemd-sysv', 'zstd']);
  assert.equal(qemuBinary('arm64'), 'qemu-system-aarch64');
  assert.equal(qemuBinary('amd64'), 'qemu-system-x86_64');
  const disk = qemuArgs({ format: 'qcow2', media: 'disk', arch: 'arm64' }, '/i.qcow2');
  assert.deepEqual(disk.slice(0, 4), ['-machine', 'virt,accel=tcg', '-cpu', 'cortex-a57'], 'never the slow default `max` CPU');
  assert.deepEqual(disk.slice(disk.indexOf('-bios'), disk.indexOf('-bios') + 2), ['-bios', AAVMF_PATH], 'UEFI always: arm64 has no BIOS');
  assert.ok(disk.includes('file=/i.qcow2,format=qcow2,if=virtio'));
  const cd = qemuArgs({ format: 'raw', media: 'cdrom', arch: 'arm64' }, '/i.iso');
  assert.ok(cd.includes('virtio-scsi-pci') && cd.includes('scsi-cd,drive=cd'), '`virt` has no IDE');
  assert.ok(!cd.includes('-boot'));
  const pc = qemuArgs({ format: 'raw', media: 'disk' }, '/i.raw');
  assert.deepEqual(pc.slice(0, 2), ['-machine', 'pc,accel=tcg']);
  assert.ok(!pc.includes('-bios'), 'amd64 boots with the BIOS unless asked for UEFI');
});

test('an arm64 build needs an enabled binfmt_misc entry with the F flag, and says how to make one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'img-binfmt-'));
  try {
    assert.deepEqual(await emulationState('amd64', dir), { arch: 'amd64', ok: true }, 'the host\'s own architecture needs nothing');
    const missing = await emulationState('arm64', dir);
    assert.equal(missing.ok, false);
    assert.match(missing.problem!, /binfmt_misc has no qemu-aarch64 entry; on the build host: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64/);
    const entry = (flags: string, state = 'enabled') => `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\n`;
    writeFileSync(join(dir, 'qemu-aarch64'), entry('P'));
    assert.match((await emulationState('arm64', dir)).problem!, /lacks the F \(fix-binary\) flag/);
    writeFileSync(join(dir, 'qemu-aarch64'), entry('PF', 'disabled'));
    assert.match((await emulationState('arm64', dir)).problem!, /is disabled/);
    writeFileSync(join(dir, 'qemu-aarch64'), entry('PF'));
    assert.deepEqual(await emulationState('arm64', dir), { arch: 'arm64', ok: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
