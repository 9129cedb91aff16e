// `img kickstart` and `img ks-check`, run as a user runs them: the bin script, from the repository root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKickstart, loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function img(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['cli/bin/img.js', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFiles(files: Record<string, string>): { dir: string; path(name: string): string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'img-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, path: (name) => join(dir, name), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('img kickstart prints the shipped platform\'s kickstart, same as the library', () => {
  const r = img('kickstart', '--platform', 'SERVER', '--overlay', 'gcc,-nano');
  assert.equal(r.code, 0, r.stderr);
  const t = loadDefaultTemplate().template;
  assert.ok(t);
  assert.equal(r.stdout, generateKickstart(t, 'SERVER', 'gcc,-nano').kickstart);
  assert.deepEqual(parseKickstart(r.stdout).errors, []);
});

test('img kickstart --yaml prints the merged platform', () => {
  const r = img('kickstart', '--platform', 'MINIMAL', '--overlay', 'htop', '--yaml');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^MINIMAL:\n/);
  assert.match(r.stdout, /ExtraPackages:\n {4}- systemd-sysv\n {4}- htop\n/);
});

test('img kickstart: overlay errors as `overlay: item N`, exit 1', () => {
  const r = img('kickstart', '--platform', 'MINIMAL', '--overlay', 'gcc,,Bad');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', /^overlay: item 2 '': empty item/);
  assert.match(lines[1] ?? '', /^overlay: item 3 'Bad': 'Bad' is not a valid Debian package name/);
});

test('img kickstart: template errors as FILE:LINE: message, warnings prefixed, exit 1', () => {
  const f = tempFiles({
    'bad.yaml': 'Repositories:\n  - {Name: debian, Suite: bookworm, Components: [main]}\nP:\n  Repos: [debian]\n  Size: 3\n',
    'warn.yaml': 'Repositories:\n  - {Name: debian, Suite: bookworm, Components: [main]}\nP:\n  Repos: [debian]\n  Repos: [other]\n',
  });
  try {
    const bad = img('kickstart', '--config', f.path('bad.yaml'), '--platform', 'P');
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `${f.path('bad.yaml')}:5: platform 'P': unknown key 'Size'\n`);
    const warn = img('kickstart', '--config', f.path('warn.yaml'), '--platform', 'P');
    assert.equal(warn.code, 1);
    assert.equal(warn.stderr, [
      `warning: ${f.path('warn.yaml')}:5: key 'Repos' is repeated on lines 4 and 5; its lists are merged in order`,
      `${f.path('warn.yaml')}:5: repository 'other' is not defined in Repositories (defined: debian)`, ''].join('\n'));
  } finally {
    f.done();
  }
});

test('img kickstart: usage errors exit 2', () => {
  assert.equal(img('kickstart').code, 2);
  assert.match(img('kickstart').stderr, /--platform is required \(platforms: MINIMAL, MINIMAL-ARM64, SERVER, SERVER-ARM64, DESKTOP/);
  assert.equal(img('kickstart', '--platfrom', 'X').code, 2);
  assert.equal(img('kickstart', '--platform', 'X', 'extra').code, 2);
  assert.equal(img('kickstart', '--config', '/nonexistent/t.yaml', '--platform', 'X').code, 2);
  assert.equal(img('kickstart', '--help').code, 0);
});

test('img kickstart: an unknown platform is an error, exit 1', () => {
  const r = img('kickstart', '--platform', 'LAPTOP');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no platform 'LAPTOP' in the template/);
});

test('img ks-check: ok, errors as FILE:LINE: message, warnings before them, usage', () => {
  const f = tempFiles({
    'good.ks': 'lang C.UTF-8\npart / --size=1024\n%packages\nlinux-image-amd64\n%end\n',
    'bad.ks': 'lang C.UTF-8\nlang C\n%post\necho\n',
  });
  try {
    const good = img('ks-check', f.path('good.ks'));
    assert.equal(good.code, 0, good.stderr);
    const ok = `${f.path('good.ks')}: ok (packages not checked: pass --server to check them against a server's package index)\n`;
    assert.equal(good.stdout, ok);
    const bad = img('ks-check', f.path('bad.ks'));
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, [
      `warning: ${f.path('bad.ks')}:2: lang is given again (first on line 1); the last one counts, as in anaconda`,
      `${f.path('bad.ks')}:3: %post section is not terminated by %end`, ''].join('\n'));
    const both = img('ks-check', f.path('good.ks'), f.path('bad.ks'));
    assert.equal(both.code, 1);
    assert.equal(both.stdout, ok);
    assert.equal(img('ks-check').code, 2);
    assert.equal(img('ks-check', '--strict', f.path('good.ks')).code, 2);
    assert.equal(img('ks-check', join(f.dir, 'missing.ks')).code, 2);
    const sparc = img('ks-check', '--arch', 'sparc', f.path('good.ks'));
    assert.equal(sparc.code, 2);
    assert.match(sparc.stderr, /--arch: unknown architecture 'sparc'; IMG builds amd64 \(x86_64\), arm64 \(aarch64\)/);
    assert.equal(img('ks-check', '--arch', 'arm64', f.path('good.ks')).code, 0);
  } finally {
    f.done();
  }
});

test('img ks-check accepts what img kickstart writes', () => {
  const f = tempFiles({});
  try {
    for (const platform of ['MINIMAL', 'SERVER', 'DESKTOP']) {
      const ks = img('kickstart', '--platform', platform);
      assert.equal(ks.code, 0, ks.stderr);
      writeFileSync(f.path(`${platform}.ks`), ks.stdout);
      const check = img('ks-check', f.path(`${platform}.ks`));
      assert.equal(check.code, 0, check.stderr);
    }
  } finally {
    f.done();
  }
});
