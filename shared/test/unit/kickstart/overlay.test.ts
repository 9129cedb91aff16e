import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverlay, formatTemplateIssues, loadTemplate } from '@img/shared/kickstart';
import type { Platform } from '@img/shared/kickstart';

const TEMPLATE = `
Repositories:
  - {Name: debian, Suite: bookworm, Components: [main]}
BOX:
  Kernel: linux-image-amd64
  PartSize: 1024
  Groups: [Standard System]
  Repos: [debian]
  ExtraPackages: [vim]
  Hostname: box
`;

function box(): Platform {
  const loaded = loadTemplate(TEMPLATE);
  const p = loaded.template?.platforms.get('BOX');
  assert.ok(p, JSON.stringify(loaded.errors));
  return p;
}

test('packages, exclusions, groups and repositories go to their lists, in order', () => {
  const r = applyOverlay(box(), ' gcc , -nano,@XFCE Desktop, repo:extra ,make');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.platform.values.ExtraPackages, ['vim', 'gcc', '-nano', 'make']);
  assert.deepEqual(r.platform.values.Groups, ['Standard System', 'XFCE Desktop']);
  assert.deepEqual(r.platform.values.Repos, ['debian', 'extra']);
  assert.deepEqual(r.platform.origins.ExtraPackages?.[2], { source: 'overlay', item: 2, text: '-nano' });
});

test('an empty or blank overlay changes nothing', () => {
  const p = box();
  for (const text of ['', '   ', '\n']) {
    const r = applyOverlay(p, text);
    assert.deepEqual(r.errors, []);
    assert.equal(r.platform, p);
  }
});

test('the input platform is never modified', () => {
  const p = box();
  const before = structuredClone(p);
  applyOverlay(p, 'gcc,@Games,repo:x');
  applyOverlay(p, 'ExtraPackages: [gcc]\nHostname: other');
  assert.deepEqual(p, before);
});

const ERROR_CASES: [string, string, number, string, RegExp][] = [
  ['empty item in the middle', 'a1,,b1', 2, '', /empty item/],
  ['trailing comma', 'gcc,', 2, '', /empty item/],
  ['leading comma', ',gcc', 1, '', /empty item/],
  ['blank item between commas', 'gcc,  ,make', 2, '', /empty item/],
  ['upper-case package', 'gcc,GCC', 2, 'GCC', /'GCC' is not a valid Debian package name/],
  ['one-character package', 'x', 1, 'x', /not a valid Debian package name/],
  ['package starting with a dot', '.hidden', 1, '.hidden', /not a valid Debian package name/],
  ['underscore in package', 'my_pkg', 1, 'my_pkg', /not a valid Debian package name/],
  ['two names without a comma', 'gcc make', 1, 'gcc make', /'gcc make' is not a valid/],
  ['exclusion of an invalid name', '-Chrome', 1, '-Chrome', /'Chrome' is not a valid Debian package name/],
  ['bare minus', '-', 1, '-', /'' is not a valid Debian package name/],
  ['empty group', 'gcc,@', 2, '@', /empty group name/],
  ['group with shell syntax', '@Foo;rm', 1, '@Foo;rm', /not a valid group name/],
  ['empty repository', 'repo:', 1, 'repo:', /empty repository name/],
  ['repository with a slash', 'repo:a/b', 1, 'repo:a/b', /not a valid repository name/],
  ['package with architecture', 'libc6:i386', 1, 'libc6:i386', /not a valid Debian package name/],
];

for (const [what, overlay, item, text, message] of ERROR_CASES) {
  test(`comma overlay error: ${what}`, () => {
    const p = box();
    const r = applyOverlay(p, overlay);
    const e = r.errors.find((x) => x.item === item);
    assert.ok(e, `no error for item ${item}: ${JSON.stringify(r.errors)}`);
    assert.equal(e.source, 'overlay');
    assert.equal(e.text, text);
    assert.match(e.message, message);
    assert.equal(r.platform, p, 'an overlay with errors applies nothing');
  });
}

test('every bad item is reported, each with its position, in CLI form', () => {
  const r = applyOverlay(box(), 'gcc,,Bad,@,ok-pkg');
  assert.deepEqual(formatTemplateIssues('t.yaml', r.errors).map((l) => l.replace(/: [^:]*$/, '')), [
    "overlay: item 2 ''", "overlay: item 3 'Bad'", "overlay: item 4 '@'",
  ]);
});

test('a YAML mapping overlay appends lists and replaces scalars', () => {
  const r = applyOverlay(box(), 'ExtraPackages:\n  - gcc\n  - -vim\nGroups: [Games]\nHostname: other\nPartSize: 4096\n');
  assert.deepEqual(r.errors, []);
  const v = r.platform.values;
  assert.deepEqual(v.ExtraPackages, ['vim', 'gcc', '-vim']);
  assert.deepEqual(v.Groups, ['Standard System', 'Games']);
  assert.equal(v.Hostname, 'other');
  assert.equal(v.PartSize, 4096);
  assert.equal(v.Kernel, 'linux-image-amd64');
  assert.deepEqual(r.platform.origins.Hostname, [{ source: 'overlay', line: 5 }]);
  assert.deepEqual(r.platform.origins.ExtraPackages?.[1], { source: 'overlay', line: 2 });
});

test('a flow-style YAML overlay works too, and User is replaced whole', () => {
  const r = applyOverlay(box(), '{User: {Name: bob, SshKey: "ssh-ed25519 AAAA bob"}, Repos: [extra]}');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.platform.values.User, { Name: 'bob', SshKey: 'ssh-ed25519 AAAA bob' });
  assert.deepEqual(r.platform.values.Repos, ['debian', 'extra']);
});

test('a YAML overlay with an unknown key or a wrong type is an error with its overlay line', () => {
  const r = applyOverlay(box(), 'Hostname: ok\nPackages: [gcc]\nPartSize: big\n');
  assert.deepEqual(formatTemplateIssues('t', r.errors).sort(), [
    "overlay:2: overlay: unknown key 'Packages'",
    "overlay:3: overlay, key 'PartSize': Expected number, received string",
  ]);
});

test('a YAML overlay with a repeated list key merges it with a warning', () => {
  const r = applyOverlay(box(), 'ExtraPackages: [gcc]\nHostname: h\nExtraPackages: [make]\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.platform.values.ExtraPackages, ['vim', 'gcc', 'make']);
  assert.match(r.warnings[0]?.message ?? '', /repeated on lines 1 and 3/);
});

test('broken YAML that was meant as YAML reports the YAML error and its line', () => {
  const r = applyOverlay(box(), 'Hostname: a\n  ExtraPackages: [gcc\n');
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]?.source, 'overlay');
  assert.equal(typeof r.errors[0]?.line, 'number');
  assert.equal(r.errors[0]?.item, undefined);
});

test('a comma overlay that happens to be valid YAML scalar text stays a comma overlay', () => {
  for (const text of ['gcc', 'repo:internal', '-google-chrome', 'gcc, make', '[gcc]']) {
    const r = applyOverlay(box(), text);
    if (text === '[gcc]') assert.match(r.errors[0]?.message ?? '', /not a valid Debian package name/);
    else assert.deepEqual(r.errors, [], text);
  }
});
