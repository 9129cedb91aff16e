// Which Debian suite a kickstart or a platform is built from, and what is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKickstart, loadDefaultTemplate, loadTemplate, parseKickstart, releaseOf, SUITE_NAMES } from '../../../src/kickstart/index.ts';
import { parseConfig, env } from '../../../src/config/index.ts';
import { z } from 'zod';

const suiteOf = (ks: string, defaultSuite?: string) => {
  const r = parseKickstart(ks, defaultSuite ? { defaultSuite } : {});
  assert.deepEqual(r.errors.map((e) => e.message), []);
  return r.plan?.suite;
};

test('IMG builds trixie, bookworm, forky and sid; trixie is the default', () => {
  assert.deepEqual(SUITE_NAMES, ['trixie', 'bookworm', 'forky', 'sid']);
  assert.equal(suiteOf('%packages\nvim\n%end\n'), 'trixie');
});

test('without repo lines the request decides; a Debian repo line decides over it', () => {
  assert.equal(suiteOf('%packages\nvim\n%end\n', 'sid'), 'sid');
  assert.equal(suiteOf('repo --name=debian --suite=bookworm --components=main\n', 'sid'), 'bookworm');
});

test("a repository of the kickstart's own does not choose the suite unless its suite is a Debian release", () => {
  assert.equal(suiteOf('repo --name=x --baseurl=https://example.invalid/apt --suite=stable --components=main\n', 'forky'), 'forky');
  assert.equal(suiteOf('repo --name=m --baseurl=https://mirror.example.invalid/debian --suite=bookworm --components=main\n'), 'bookworm');
});

test('side suites belong to their release: backports, updates, security', () => {
  assert.equal(releaseOf('trixie-backports'), 'trixie');
  assert.equal(releaseOf('bookworm-security'), 'bookworm');
  assert.equal(releaseOf('buster'), undefined);
  assert.equal(suiteOf('repo --name=bpo --suite=bookworm-backports --components=main\n'), 'bookworm');
});

test('two suites in repo lines: refused on the second, naming both lines', () => {
  const r = parseKickstart('repo --name=a --suite=bookworm --components=main\nlang C\nrepo --name=m --baseurl=http://m.example.invalid/debian --suite=sid --components=main\n');
  assert.equal(r.plan, undefined);
  assert.deepEqual(r.errors.map((e) => [e.line, e.message]), [[3,
    'repo --suite=sid is sid, but line 1 (repo --suite=bookworm) is bookworm: an image is built from one Debian suite; make the repo lines name the same one']]);
});

test("the shipped template is trixie; a request's suite builds a platform for another suite", () => {
  const tpl = loadDefaultTemplate().template;
  assert.ok(tpl);
  assert.equal(generateKickstart(tpl, 'MINIMAL').suite, 'trixie');
  const g = generateKickstart(tpl, 'MINIMAL', '', { suite: 'bookworm' });
  assert.equal(g.suite, 'bookworm');
  assert.match(g.kickstart ?? '', /^repo --name=debian --suite=bookworm --components=main$/m);
});

test("a template's unknown Suite is an error on its line, listing the suites offered", () => {
  const t = loadTemplate('Repositories:\n  - {Name: debian, Suite: trixie, Components: [main]}\nP:\n  Suite: jessie\n  Repos: [debian]\n', { file: 't.yaml' });
  assert.ok(t.template);
  const g = generateKickstart(t.template, 'P');
  assert.deepEqual(g.errors.map((e) => [e.line, e.message]), [[4,
    "Suite jessie: unknown suite 'jessie'; IMG builds trixie (stable), bookworm (oldstable), forky (testing), sid (unstable)"]]);
});

test('IMG_DEFAULT_SUITE: unset is trixie, a known suite is taken, an unknown one stops the service naming it', () => {
  const schema = z.object({ IMG_DEFAULT_SUITE: env.suite() });
  assert.equal(parseConfig(schema, {}).IMG_DEFAULT_SUITE, 'trixie');
  assert.equal(parseConfig(schema, { IMG_DEFAULT_SUITE: 'bookworm' }).IMG_DEFAULT_SUITE, 'bookworm');
  assert.throws(() => parseConfig(schema, { IMG_DEFAULT_SUITE: 'potato' }), /IMG_DEFAULT_SUITE: unknown suite 'potato'; IMG builds trixie/);
});

test('the identical-request hash tells suites apart, however the suite was chosen', async () => {
  const { requestHash } = await import('../../../src/builds/index.ts');
  const ks = '%packages\nvim\n%end\n';
  const hash = (text: string, defaultSuite?: string) => requestHash(parseKickstart(text, defaultSuite ? { defaultSuite } : {}).plan!, 'tar', 'b1');
  assert.notEqual(hash(ks), hash(ks, 'bookworm'));
  assert.notEqual(hash(ks, 'sid'), hash(ks, 'forky'));
  assert.equal(hash(ks, 'bookworm'), hash(ks, 'bookworm'));
});
