// `img verify` tells an image's architecture from the UEFI boot program on it. Disks made here the
// way the builder makes them (sfdisk, mkfs.fat, mtools; qemu-img for the converted formats), each
// holding one boot program in its EFI system partition, and a disk holding none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectArchitecture } from '../../../src/boot/index.ts';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'img-arch-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });

/** A 48 MiB disk: 1 MiB, a 32 MiB FAT partition with EFI/BOOT/NAME (or nothing), the rest. */
function disk(name: string, label: 'gpt' | 'dos', program?: string): string {
  const file = join(dir, name);
  const fat = join(dir, `${name}.fat`);
  rmSync(fat, { force: true });
  run('mkfs.fat', '-C', fat, String(32 * 1024));
  if (program) {
    writeFileSync(join(dir, program), 'MZ not really a program');
    run('mmd', '-i', fat, '::/EFI', '::/EFI/BOOT');
    run('mcopy', '-i', fat, join(dir, program), `::/EFI/BOOT/${program}`);
  }
  writeFileSync(file, '');
  truncateSync(file, 48 * 1048576);
  const table = label === 'gpt'
    ? 'label: gpt\nstart=2048, size=65536, type=U\nstart=67584, size=28672, type=L\n'
    : 'label: dos\nstart=2048, size=65536, type=ef\nstart=67584, size=28672, type=83\n';
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], { input: table });
  execFileSync('dd', [`if=${fat}`, `of=${file}`, 'bs=1M', 'seek=1', 'conv=notrunc', 'status=none']);
  return file;
}

test('a GPT disk whose EFI system partition holds BOOTAA64.EFI is arm64; an MBR disk with BOOTX64.EFI is amd64', async () => {
  const arm = await detectArchitecture(disk('arm.raw', 'gpt', 'BOOTAA64.EFI'), { format: 'raw', media: 'disk' });
  assert.deepEqual(arm, { arch: 'arm64', how: 'its EFI system partition holds EFI/BOOT/BOOTAA64.EFI' });
  const pc = await detectArchitecture(disk('pc.raw', 'dos', 'BOOTX64.EFI'), { format: 'raw', media: 'disk' });
  assert.deepEqual(pc, { arch: 'amd64', how: 'its EFI system partition holds EFI/BOOT/BOOTX64.EFI' });
});

test('a disk with no UEFI boot program is not guessed at', async () => {
  const none = await detectArchitecture(disk('none.raw', 'gpt'), { format: 'raw', media: 'disk' });
  assert.equal(none.arch, undefined);
  assert.match(none.how, /holds no UEFI boot program/);
  // The name as file content, not a directory entry, is not taken for one.
  const file = join(dir, 'text.raw');
  writeFileSync(file, Buffer.concat([Buffer.alloc(7), Buffer.from('BOOTAA64EFI'), Buffer.alloc(4096)]));
  assert.equal((await detectArchitecture(file, { format: 'raw', media: 'disk' })).arch, undefined);
});

test('a qcow2 or vdi disk is read through qemu-img', async () => {
  const raw = disk('conv.raw', 'gpt', 'BOOTAA64.EFI');
  for (const format of ['qcow2', 'vdi'] as const) {
    const out = join(dir, `conv.${format}`);
    run('qemu-img', 'convert', '-f', 'raw', '-O', format, raw, out);
    assert.equal((await detectArchitecture(out, { format, media: 'disk' })).arch, 'arm64', format);
  }
});
