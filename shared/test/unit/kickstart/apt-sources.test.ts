// The apt sources a build installs from and the image keeps: updates and security for stable and
// oldstable, in the release's own format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aptSources, parseKickstart } from '../../../src/kickstart/index.ts';

const plan = (ks: string, defaultSuite?: string) => {
  const p = parseKickstart(ks, defaultSuite ? { defaultSuite } : {}).plan;
  assert.ok(p);
  return p;
};

test('a kickstart without repo lines: trixie, trixie-updates and trixie-security, kept as deb822 debian.sources', () => {
  const a = aptSources(plan('%packages\nvim\n%end\n'));
  assert.equal(a.install, [
    'deb @DEFAULT_MIRROR@ trixie main', 'deb @DEFAULT_MIRROR@ trixie-updates main', 'deb @SECURITY_MIRROR@ trixie-security main', '',
  ].join('\n'));
  assert.equal(a.image.file, 'debian.sources');
  assert.equal(a.image.text, [
    'Types: deb', 'URIs: @DEFAULT_MIRROR@', 'Suites: trixie trixie-updates', 'Components: main', 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
    'Types: deb', 'URIs: @SECURITY_MIRROR@', 'Suites: trixie-security', 'Components: main', 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
  ].join('\n'));
});

test('bookworm: the same suites, as a one-line sources.list, with the components of its repo line', () => {
  const a = aptSources(plan('repo --name=debian --suite=bookworm --components=main,contrib\n'));
  assert.equal(a.image.file, 'sources.list');
  assert.equal(a.image.text, [
    'deb @DEFAULT_MIRROR@ bookworm main contrib', 'deb @DEFAULT_MIRROR@ bookworm-updates main contrib', 'deb @SECURITY_MIRROR@ bookworm-security main contrib', '',
  ].join('\n'));
});

test('sid and forky have no updates or security suite, and get none', () => {
  for (const suite of ['sid', 'forky']) {
    const a = aptSources(plan('', suite));
    assert.equal(a.install, `deb @DEFAULT_MIRROR@ ${suite} main\n`);
    assert.doesNotMatch(a.image.text, /-security|-updates|SECURITY_MIRROR/);
  }
});

test("backports alone still stand on their release; a repository of the kickstart's own is taken as it is, without Debian's keyring", () => {
  const a = aptSources(plan('repo --name=bpo --suite=trixie-backports --components=main\nrepo --name=x --baseurl=https://example.invalid/apt --suite=stable --components=main\n'));
  assert.deepEqual(a.sources.map((s) => `${s.uri} ${s.suites.join(',')}`), [
    '@DEFAULT_MIRROR@ trixie,trixie-updates', '@SECURITY_MIRROR@ trixie-security', '@DEFAULT_MIRROR@ trixie-backports', 'https://example.invalid/apt stable',
  ]);
  assert.match(a.image.text, /URIs: https:\/\/example\.invalid\/apt\nSuites: stable\nComponents: main\n(?!Signed-By)/);
});
