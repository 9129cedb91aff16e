// `img verify` as a user runs it, with the real QEMU: usage errors, and a file that does not boot
// fails within its time limit. (A disk that boots is verified in image-creator's bootable-images test.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function img(...args: string[]): { code: number | null; stdout: string; stderr: string; seconds: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['cli/bin/img.js', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

test('img verify: usage errors exit 2', () => {
  assert.equal(img('verify').code, 2);
  const dir = mkdtempSync(join(tmpdir(), 'img-verify-'));
  try {
    const file = join(dir, 'disk.raw');
    writeFileSync(file, Buffer.alloc(1024 * 1024));
    assert.equal(img('verify', file, '--timeout', 'soon').code, 2);
    assert.equal(img('verify', file, '--as', 'floppy').code, 2);
    assert.equal(img('verify', file, '--marker', '').code, 2);
    assert.equal(img('verify', file, '--arch', 'ppc64el').code, 2);
    // Nothing on it tells which machine it boots on.
    const unknown = img('verify', file);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /cannot tell the architecture of .*disk\.raw: the disk holds no UEFI boot program .*; pass --arch/);
    const missing = img('verify', join(dir, 'nope.raw'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
    const qcow = Buffer.alloc(1024);
    qcow.write('QFI\xfb', 0, 'latin1');
    qcow.writeBigUInt64BE(512n, 8);
    writeFileSync(join(dir, 'backed.qcow2'), qcow);
    const backed = img('verify', join(dir, 'backed.qcow2'));
    assert.equal(backed.code, 2);
    assert.match(backed.stderr, /backing file/);
    assert.equal(img('verify', '--help').code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('img verify: a disk with nothing to boot fails within its limit, exit 1, and says the console stayed silent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'img-verify-'));
  try {
    const file = join(dir, 'blank.raw');
    writeFileSync(file, Buffer.alloc(8 * 1024 * 1024));
    const r = img('verify', file, '--arch', 'amd64', '--timeout', '10');
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.ok(r.seconds < 10 + 15, `took ${r.seconds} s`);
    assert.match(r.stdout, /^FAIL: no "IMG-BOOT-OK" or a login prompt on the serial console within 10 s: the console stayed silent/m);
    assert.match(r.stdout, /last lines of the serial console:\n {2}\(nothing\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
