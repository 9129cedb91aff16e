import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTemplateIssues, generateKickstart, kickstartFromPlan, listPlatforms, loadDefaultTemplate, loadTemplate,
  mergedPlatform, parseKickstart, platformToPlan,
} from '@img/shared/kickstart';
import type { Template } from '@img/shared/kickstart';

function shipped(): Template {
  const r = loadDefaultTemplate();
  assert.ok(r.template, JSON.stringify(r.errors));
  return r.template;
}

const OVERLAYS = [undefined, 'gcc,-nano,@Printing', 'Hostname: other\nExtraPackages: [make]\nRootPassword: secret'];

test('generate → parse → write is a fixed point for every shipped platform, with and without overlays', () => {
  const t = shipped();
  assert.ok(listPlatforms(t).length >= 3);
  for (const name of listPlatforms(t)) {
    for (const overlay of OVERLAYS) {
      const g = generateKickstart(t, name, overlay);
      assert.deepEqual(g.errors, [], `${name} ${overlay}`);
      assert.ok(g.kickstart);
      const parsed = parseKickstart(g.kickstart);
      assert.deepEqual(parsed.errors, [], `${name}: ${JSON.stringify(parsed.errors)}`);
      assert.deepEqual(parsed.warnings, []);
      assert.ok(parsed.plan);
      assert.equal(kickstartFromPlan(parsed.plan), g.kickstart, `${name} with ${overlay ?? 'no overlay'}`);
    }
  }
});

test('generation is deterministic: same input, byte-identical output, also from a fresh load', () => {
  const a = generateKickstart(shipped(), 'SERVER', 'gcc').kickstart;
  const b = generateKickstart(shipped(), 'SERVER', 'gcc').kickstart;
  assert.ok(a);
  assert.equal(a, b);
});

test('the shipped MINIMAL platform is a bootable minimum', () => {
  const ks = generateKickstart(shipped(), 'MINIMAL').kickstart ?? '';
  const plan = parseKickstart(ks).plan;
  assert.ok(plan);
  assert.equal(plan.suite, 'trixie');
  assert.deepEqual(plan.repos, [{ name: 'debian', suite: 'trixie', components: ['main'] }]);
  assert.ok(plan.packages.include.includes('linux-image-amd64'));
  assert.ok(plan.packages.include.includes('systemd-sysv'));
  assert.ok(plan.hostname);
  assert.equal(plan.partitions[0]?.mountpoint, '/');
  assert.ok((plan.partitions[0]?.sizeMiB ?? 0) >= 1024);
  assert.ok(plan.post.some((s) => s.body.includes('/etc/img/')));
  assert.ok(!ks.includes('--baseurl'), 'the Debian repository has no URL: the builder picks its mirror');
});

test('SERVER has an SSH server and a user with a key; DESKTOP a desktop task through a group', () => {
  const t = shipped();
  const server = parseKickstart(generateKickstart(t, 'SERVER').kickstart ?? '').plan;
  assert.ok(server?.packages.groups.includes('SSH Server'));
  assert.ok(server?.users[0]?.sshkeys[0]?.startsWith('ssh-ed25519 '));
  assert.deepEqual(t.groups['SSH Server'], ['openssh-server']);
  const desktop = parseKickstart(generateKickstart(t, 'DESKTOP').kickstart ?? '').plan;
  assert.ok(desktop?.packages.groups.includes('XFCE Desktop'));
  assert.deepEqual(t.groups['XFCE Desktop'], ['task-xfce-desktop']);
});

const SMALL = `
Default:
  Kernel: linux-image-amd64
  Repos: [debian]
Repositories:
  - {Name: debian, Suite: bookworm, Components: [main, contrib]}
  - {Name: extra, Url: "https://example.invalid/apt", Suite: stable, Components: [main], Key: "https://example.invalid/k.asc"}
PostScripts:
  hello: echo hello
Groups:
  Base: [less]
P:
  Repos: [debian, extra, missing]
  PostScripts: [hello, nope]
Q:
  Suite: trixie
  Groups: [Base, Unknown Group]
  PostScripts: [hello]
R:
  Repos: []
S:
  Suite: trixie
  Repos: [extra, debian]
`;

function small(): Template {
  const r = loadTemplate(SMALL, { file: 'small.yaml' });
  assert.ok(r.template, JSON.stringify(r.errors));
  return r.template;
}

test('an undefined repository or post-script is an error at generation, naming the template line', () => {
  const g = generateKickstart(small(), 'P');
  assert.equal(g.kickstart, undefined);
  assert.deepEqual(formatTemplateIssues('small.yaml', g.errors), [
    "small.yaml:13: repository 'missing' is not defined in Repositories (defined: debian, extra)",
    "small.yaml:14: post-script 'nope' is not defined in PostScripts (defined: hello)",
  ]);
});

test('an undefined repository added by the overlay names the overlay item', () => {
  const g = generateKickstart(small(), 'Q', 'gcc,repo:internal');
  assert.deepEqual(formatTemplateIssues('small.yaml', g.errors),
    ["overlay: item 2 'repo:internal': repository 'internal' is not defined in Repositories (defined: debian, extra)"]);
});

test('a platform Suite applies to the repositories without Url; others keep theirs', () => {
  const t = small();
  const g = generateKickstart(t, 'Q', 'repo:extra');
  assert.deepEqual(g.errors, []);
  const plan = parseKickstart(g.kickstart ?? '').plan;
  assert.equal(plan?.suite, 'trixie');
  assert.deepEqual(plan?.repos, [
    { name: 'debian', suite: 'trixie', components: ['main', 'contrib'] },
    { name: 'extra', baseurl: 'https://example.invalid/apt', suite: 'stable', components: ['main'], key: 'https://example.invalid/k.asc' },
  ]);
});

test('a group missing from the template\'s table is a warning at generation (the build rejects it)', () => {
  const g = generateKickstart(small(), 'Q');
  assert.deepEqual(g.errors, []);
  assert.deepEqual(formatTemplateIssues('small.yaml', g.warnings).map((w) => w.replace(/;.*/, '')),
    ["small.yaml:17: group 'Unknown Group' is not in this template's Groups"]);
});

test('a platform without repositories cannot be generated', () => {
  assert.match(generateKickstart(small(), 'R').errors[0]?.message ?? '', /lists no Repos/);
});

test('the first repository must match the platform Suite', () => {
  assert.deepEqual(formatTemplateIssues('small.yaml', generateKickstart(small(), 'S').errors), [
    "small.yaml:23: the first repository 'extra' is for suite stable, but the platform's Suite is trixie; list the Debian repository first",
  ]);
});

test('platformToPlan: kernel first, exclusions win, crypted passwords by their $ prefix', () => {
  const t = small();
  const merged = mergedPlatform(t, 'Q', 'ExtraPackages: [vim, gcc, -vim]\nRootPassword: "$6$x$y"\nUser: {Name: ann, Password: plain}');
  assert.ok(merged.platform, JSON.stringify(merged.errors));
  const { plan } = platformToPlan(t, merged.platform);
  assert.ok(plan);
  assert.deepEqual(plan.packages, { include: ['linux-image-amd64', 'gcc'], exclude: ['vim'], groups: ['Base', 'Unknown Group'] });
  assert.deepEqual(plan.rootpw, { password: '$6$x$y', iscrypted: true, lock: false });
  assert.deepEqual(plan.users, [{ name: 'ann', password: 'plain', iscrypted: false, groups: [], sshkeys: [] }]);
  assert.deepEqual(plan.post, [{ interpreter: '/bin/sh', nochroot: false, body: 'echo hello', line: 0 }]);
});

test('generated text has the documented shape', () => {
  const ks = generateKickstart(small(), 'Q', 'repo:extra,gcc,-nano').kickstart;
  assert.equal(ks, [
    'repo --name=debian --suite=trixie --components=main,contrib',
    'repo --name=extra --baseurl=https://example.invalid/apt --suite=stable --components=main --key=https://example.invalid/k.asc',
    '',
    '%packages',
    '@Base',
    '@Unknown Group',
    'linux-image-amd64',
    'gcc',
    '-nano',
    '%end',
    '',
    '%post',
    'echo hello',
    '%end',
    '',
  ].join('\n'));
});

test('a kickstart written by hand reaches the same fixed point after one write', () => {
  const text = 'timezone UTC\nlang C\n%post\n%end\n%packages\n-b1\na1\n@G\n%end\nrootpw --lock\n';
  const once = kickstartFromPlan(parseKickstart(text).plan!);
  assert.equal(kickstartFromPlan(parseKickstart(once).plan!), once);
  // The empty %post is no script, as in pykickstart.
  assert.equal(once, 'lang C\ntimezone UTC\nrootpw --lock\n\n%packages\n@G\na1\n-b1\n%end\n');
});
