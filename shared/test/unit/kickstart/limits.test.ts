// Inputs that cannot explode: YAML aliases, nesting and size, every list, and part --size. Each is
// refused with one error that names the field or line and the cap, and costs little to refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyOverlay, formatKsErrors, formatTemplateIssues, generateKickstart, loadTemplate, parseKickstart,
} from '@img/shared/kickstart';
import type { Platform, Template } from '@img/shared/kickstart';

/** Seven levels of nine aliases each: 4.7 million nodes once expanded, from under 400 bytes. */
function aliasBomb(levels = 7): string {
  const lines = ['a0: &a0 [x,x,x,x,x,x,x,x,x]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

const TEMPLATE = `Repositories:
  - {Name: debian, Suite: bookworm, Components: [main]}
BOX:
  PartSize: 1024
  Repos: [debian]
  ExtraPackages: [vim]
`;

function box(): { template: Template; platform: Platform } {
  const loaded = loadTemplate(TEMPLATE);
  const platform = loaded.template?.platforms.get('BOX');
  assert.ok(loaded.template && platform, JSON.stringify(loaded.errors));
  return { template: loaded.template, platform };
}

test('an overlay with aliases is refused, naming the line of the first alias, whatever their depth', () => {
  const bomb = aliasBomb();
  assert.ok(bomb.length < 420, `${bomb.length} bytes`);
  const r = applyOverlay(box().platform, bomb);
  assert.equal(r.errors.length, 1);
  assert.deepEqual(formatTemplateIssues('t.yaml', r.errors), ['overlay:2: YAML aliases (*a0) are not allowed in an overlay: write the values out']);
  // Even one harmless alias: an overlay is a few lines a person writes.
  const one = applyOverlay(box().platform, 'ExtraPackages: &p [gcc]\nGroups:\n  *p\n');
  assert.deepEqual(formatTemplateIssues('t.yaml', one.errors), ['overlay:3: YAML aliases (*p) are not allowed in an overlay: write the values out']);
});

test('a template whose aliases expand past the node cap is refused, naming the file and the line', () => {
  const r = loadTemplate(`${TEMPLATE}${aliasBomb()}`, { file: 'bomb.yaml' });
  assert.equal(r.template, undefined);
  const lines = formatTemplateIssues('bomb.yaml', r.errors);
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /^bomb\.yaml:1[0-9]: the YAML has more than 100000 nodes once the aliases on this line are expanded: the limit is 100000$/);
});

test('a template may still use aliases within the cap; each expansion keeps the alias\'s line', () => {
  const text = `Repositories:
  - {Name: debian, Suite: bookworm, Components: &c [main, contrib]}
  - {Name: extra, Url: "http://example.com/debian", Suite: bookworm, Components: *c}
BOX:
  Repos: &r [debian]
  ExtraPackages: [vim]
OTHER:
  Repos: *r
`;
  const r = loadTemplate(text);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.template?.repositories.get('extra')?.Components, ['main', 'contrib']);
  assert.deepEqual(r.template?.platforms.get('OTHER')?.values.Repos, ['debian']);
  assert.deepEqual(r.template?.platforms.get('OTHER')?.origins.Repos, [{ source: 'template', line: 8 }]);
});

test('YAML nested past the depth cap is an error naming it, in flow and block style, not a stack overflow', () => {
  for (const deep of ['['.repeat(200_000), `${'- '.repeat(200_000)}x`, `ExtraPackages: ${'['.repeat(200_000)}`]) {
    const t = loadTemplate(deep, { file: 'deep.yaml' });
    assert.deepEqual(formatTemplateIssues('deep.yaml', t.errors), ['deep.yaml:1: the YAML is nested more than 64 deep: the limit is 64']);
    const o = applyOverlay(box().platform, deep);
    assert.equal(o.errors.length, 1, JSON.stringify(o.errors).slice(0, 300));
    assert.match(o.errors[0]?.message ?? '', /nested more than 64 deep|more than 5000 items/);
  }
});

test('a megabyte of commas is one error naming the overlay\'s item cap', () => {
  for (const text of [','.repeat(1024 * 1024), 'gcc,'.repeat(300_000)]) {
    const r = applyOverlay(box().platform, text);
    assert.deepEqual(formatTemplateIssues('t.yaml', r.errors), ['overlay: the overlay has more than 5000 items: the limit is 5000']);
    const g = generateKickstart(box().template, 'BOX', text);
    assert.equal(g.errors.length, 1);
  }
  // Many bad items: the report stops at 100.
  const bad = applyOverlay(box().platform, 'A,'.repeat(4000));
  assert.equal(bad.errors.length, 100);
});

test('every template list is capped, with an error naming the key and the cap', () => {
  const many = (n: number, f: (i: number) => string) => `[${Array.from({ length: n }, (_, i) => f(i)).join(', ')}]`;
  const cases: [string, string, RegExp][] = [
    ['ExtraPackages', many(5001, (i) => `pkg${i}`), /key 'ExtraPackages': lists more than 5000 entries: the limit is 5000/],
    ['Groups', many(201, (i) => `G${i}`), /key 'Groups': lists more than 200 entries: the limit is 200/],
    ['Repos', many(51, (i) => `r${i}`), /key 'Repos': lists more than 50 entries: the limit is 50/],
    ['PostScripts', many(101, (i) => `p${i}`), /key 'PostScripts': lists more than 100 entries: the limit is 100/],
  ];
  for (const [key, value, expected] of cases) {
    const r = loadTemplate(`${TEMPLATE}  ${key === 'ExtraPackages' ? 'Kernel' : key}: ${key === 'ExtraPackages' ? 'linux-image-amd64' : value}\nBIG:\n  ${key}: ${value}\n`, { file: 'big.yaml' });
    const lines = formatTemplateIssues('big.yaml', r.errors);
    assert.equal(lines.length, key === 'ExtraPackages' ? 1 : 2, lines.join('\n').slice(0, 500));
    assert.match(lines.at(-1) ?? '', /^big\.yaml:9: platform 'BIG', /);
    assert.match(lines.at(-1) ?? '', expected);
  }
  const comps = loadTemplate(`Repositories:\n  - {Name: d, Suite: bookworm, Components: ${many(21, (i) => `c${i}`)}}\n`, { file: 'c.yaml' });
  assert.match(formatTemplateIssues('c.yaml', comps.errors).join('\n'), /c\.yaml:2: Repositories\[0\], key 'Components': lists more than 20 components: the limit is 20/);
  const user = loadTemplate(`BOX:\n  User: {Name: a, Groups: ${many(65, (i) => `g${i}`)}}\n`, { file: 'u.yaml' });
  assert.match(formatTemplateIssues('u.yaml', user.errors).join('\n'), /key 'User\.Groups': lists more than 64 entries: the limit is 64/);
  const repos = loadTemplate(`Repositories:\n${'  - {Name: d, Suite: bookworm, Components: [main]}\n'.repeat(501)}`, { file: 'r.yaml' });
  assert.deepEqual(formatTemplateIssues('r.yaml', repos.errors), ['r.yaml:1: Repositories lists more than 500 repositories: the limit is 500']);
});

test('an overlay cannot make a list longer than its cap, with the platform\'s own entries', () => {
  const items = Array.from({ length: 4999 }, (_, i) => `pkg${i}`);
  const list = applyOverlay(box().platform, `${items.join(',')},gcc`);
  assert.deepEqual(formatTemplateIssues('t.yaml', list.errors), ['overlay: with the overlay, ExtraPackages has 5001 entries: the limit is 5000']);
  const yaml = applyOverlay(box().platform, `Hostname: x\nExtraPackages: [${items.join(', ')}, gcc]\n`);
  assert.deepEqual(formatTemplateIssues('t.yaml', yaml.errors), ['overlay:2: with the overlay, ExtraPackages has 5001 entries: the limit is 5000']);
  assert.deepEqual(applyOverlay(box().platform, items.join(',')).errors, []);
});

test('every kickstart list is capped, with an error naming the line and the cap', () => {
  const at = (text: string) => formatKsErrors('k.ks', parseKickstart(text).errors);
  const pkgs = Array.from({ length: 5001 }, (_, i) => `pkg${i}`).join('\n');
  assert.deepEqual(at(`%packages\n${pkgs}\n%end\n`), ['k.ks:5002: %packages lists more than 5000 packages: the limit is 5000']);
  const groups = Array.from({ length: 201 }, (_, i) => `@G${i}`).join('\n');
  assert.deepEqual(at(`%packages\n${groups}\n%end\n`), ['k.ks:202: %packages lists more than 200 @group lines: the limit is 200']);
  const repos = Array.from({ length: 51 }, (_, i) => `repo --name=r${i} --suite=bookworm --components=main`).join('\n');
  assert.deepEqual(at(repos), ['k.ks:51: too many repo lines: the limit is 50']);
  const posts = '%post\ntrue\n%end\n'.repeat(101);
  assert.deepEqual(at(posts), ['k.ks:301: more than 100 %post sections: the limit is 100']);
  const users = Array.from({ length: 101 }, (_, i) => `user --name=u${i}`).join('\n');
  assert.deepEqual(at(users), ['k.ks:101: too many user lines: the limit is 100']);
  const keys = `user --name=a\n${'sshkey --username=a "ssh-ed25519 AAAA a@b"\n'.repeat(201)}`;
  assert.deepEqual(at(keys), ['k.ks:202: too many sshkey lines: the limit is 200']);
  const ugroups = Array.from({ length: 65 }, (_, i) => `g${i}`).join(',');
  assert.deepEqual(at(`user --name=a --groups=${ugroups}`), ['k.ks:1: --groups lists 65 groups: the limit is 64']);
  const comps = Array.from({ length: 21 }, (_, i) => `c${i}`).join(',');
  assert.deepEqual(at(`repo --name=d --suite=bookworm --components=${comps}`), ['k.ks:1: --components lists 21 components: the limit is 20']);
});

test('part --size above the service\'s limit is refused naming the line and the cap; the limit is a parse option', () => {
  const ks = 'lang C.UTF-8\npart / --size 1048576\n%packages\n%end\n';
  assert.deepEqual(formatKsErrors('k.ks', parseKickstart(ks).errors), ["k.ks:2: part / --size 1048576 is above this service's limit of 65536 MiB"]);
  assert.deepEqual(formatKsErrors('k.ks', parseKickstart(ks.replace('1048576', '65536')).errors), []);
  const small = { limits: { maxRootSizeMib: 4096 } };
  assert.deepEqual(formatKsErrors('k.ks', parseKickstart(ks.replace('1048576', '4097'), small).errors), ["k.ks:2: part / --size 4097 is above this service's limit of 4096 MiB"]);
  assert.equal(parseKickstart(ks.replace('1048576', '4096'), small).plan?.partitions[0]?.sizeMiB, 4096);
  // A template's PartSize is held to the same limit, said of the template's line.
  const g = generateKickstart(box().template, 'BOX', undefined, small);
  assert.deepEqual(g.errors, []);
  const big = generateKickstart(box().template, 'BOX', 'PartSize: 8192', small);
  assert.deepEqual(formatTemplateIssues('t.yaml', big.errors), ["overlay:1: PartSize 8192 is above this service's limit of 4096 MiB"]);
  const tpl = generateKickstart(box().template, 'BOX', undefined, { limits: { maxRootSizeMib: 512 } });
  assert.deepEqual(formatTemplateIssues('t.yaml', tpl.errors), ["t.yaml:4: PartSize 1024 is above this service's limit of 512 MiB"]);
});
