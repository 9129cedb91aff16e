// Real kickstarts collected from public MeeGo, Mer, Nemo, Sailfish OS, Fedora, Mageia, CentOS, Rocky
// Linux and AlmaLinux repositories and from anaconda's and pykickstart's tests (real/, each with its
// origin beside it), and Debian ports of some of them (ports/). The reader must never crash on them nor
// name a line a file does not have; what it says about each is kept in NAME.expected-report.txt
// (IMG_UPDATE_CORPUS=1 rewrites those, for review in the diff). A port changes only repositories and
// package names, which portDiff checks line by line, and passes with warnings only (its packages are
// checked against the real package index in image-creator's package-index test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatKsErrors, loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { portDiff } from './support/port-diff.ts';

const realDir = fileURLToPath(new URL('real/', import.meta.url));
const portDir = fileURLToPath(new URL('ports/', import.meta.url));
const update = process.env.IMG_UPDATE_CORPUS === '1';
const groups = loadDefaultTemplate().template?.groups;
assert.ok(groups);

const ks = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ks')).sort();
const realFiles = ks(realDir);

function origin(file: string): Record<string, string> {
  const path = join(realDir, file.replace(/\.ks$/, '.origin'));
  assert.ok(existsSync(path), `${file} has its origin beside it`);
  return Object.fromEntries(readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf(': ');
    return [l.slice(0, i), l.slice(i + 2)];
  }));
}

function report(file: string, text: string): string {
  const r = parseKickstart(text, { file, groups });
  return [...formatKsErrors(file, r.errors).map((l) => `error: ${l}`), ...formatKsErrors(file, r.warnings).map((l) => `warning: ${l}`)].join('\n') + '\n';
}

test('at least 30 real kickstarts from at least 5 distributions, each with its repository, path, commit and licence', () => {
  assert.ok(realFiles.length >= 30, `${realFiles.length} files`);
  const distributions = new Set<string>();
  for (const f of realFiles) {
    const o = origin(f);
    assert.match(o.repository ?? '', /^[\w.-]+\/[\w.-]+$/, `${f}: repository`);
    assert.ok(o.path, `${f}: path`);
    assert.match(o.commit ?? '', /^[0-9a-f]{40}$/, `${f}: commit`);
    assert.ok(o.licence, `${f}: licence`);
    assert.ok(o.distribution, `${f}: distribution`);
    distributions.add((o.distribution as string).replace(/ \(.*\)$/, ''));
  }
  assert.ok(distributions.size >= 5, [...distributions].join(', '));
});

for (const file of realFiles) {
  test(`real: ${file} is read without a crash, every report names a line it has, and says what it said before`, () => {
    const text = readFileSync(join(realDir, file), 'utf8');
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    const r = parseKickstart(text, { file, groups });
    for (const e of [...r.errors, ...r.warnings]) {
      assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines.length, `${file}: line ${e.line} of ${lines.length}: ${e.message}`);
      assert.equal(e.text, lines[e.line - 1], `${file}:${e.line}: the report quotes the line`);
    }
    const expectedPath = join(realDir, file.replace(/\.ks$/, '.expected-report.txt'));
    const got = report(file, text);
    if (update) writeFileSync(expectedPath, got);
    else assert.equal(got, readFileSync(expectedPath, 'utf8'), expectedPath);
  });
}

const ports = ks(portDir);

test('at least 10 ports to Debian, each of a real kickstart', () => {
  assert.ok(ports.length >= 10, `${ports.length} ports`);
  for (const p of ports) assert.ok(existsSync(join(realDir, p)), `ports/${p} is a port of real/${p}`);
});

for (const file of ports) {
  test(`port: ${file} changes only repositories and package names, and passes (with warnings, if any)`, () => {
    const original = readFileSync(join(realDir, file), 'utf8');
    const port = readFileSync(join(portDir, file), 'utf8');
    const problems = portDiff(original, port, (path) => {
      const fragment = join(realDir, 'fragments', path);
      return existsSync(fragment) ? readFileSync(fragment, 'utf8') : undefined;
    });
    assert.deepEqual(problems, [], `ports/${file} changes more than repositories and package names`);
    const r = parseKickstart(port, { file, groups });
    assert.deepEqual(formatKsErrors(`ports/${file}`, r.errors), []);
    const expectedPath = join(portDir, file.replace(/\.ks$/, '.expected-report.txt'));
    const got = report(file, port);
    if (update) writeFileSync(expectedPath, got);
    else assert.equal(got, readFileSync(expectedPath, 'utf8'), expectedPath);
  });
}
