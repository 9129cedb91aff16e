import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultTemplatePath, formatTemplateIssues, generateKickstart, listPlatforms, loadDefaultTemplate, loadTemplate, mergedPlatform,
  platformArchitecture, platformYaml,
} from '@img/shared/kickstart';

function errorsOf(text: string): string[] {
  return formatTemplateIssues('t.yaml', loadTemplate(text).errors);
}

const INHERIT = `
Default:
  Kernel: linux-image-amd64
  PartSize: 1024
  Hostname: default-host
  ExtraPackages: [systemd-sysv, less]
  Groups: [Standard System]
  Repos: [debian]
A:
  Hostname: a-host
B:
  ExtraPackages: [vim]
  Groups: []
C:
`;

test('a platform inherits Default and overrides the keys it sets; its lists replace Default\'s', () => {
  const t = loadTemplate(INHERIT).template;
  assert.ok(t);
  assert.deepEqual(listPlatforms(t), ['A', 'B', 'C']);
  const a = mergedPlatform(t, 'A').platform?.values;
  assert.equal(a?.Hostname, 'a-host');
  assert.equal(a?.PartSize, 1024);
  assert.deepEqual(a?.ExtraPackages, ['systemd-sysv', 'less']);
  const b = mergedPlatform(t, 'B').platform?.values;
  assert.deepEqual(b?.ExtraPackages, ['vim']);
  assert.deepEqual(b?.Groups, []);
  assert.equal(b?.Hostname, 'default-host');
  const c = mergedPlatform(t, 'C').platform?.values;
  assert.deepEqual(c, t.defaults.values, 'an empty platform is Default');
});

test('origins point at the Default line for inherited keys and at the platform line for its own', () => {
  const t = loadTemplate(INHERIT).template;
  assert.ok(t);
  const a = mergedPlatform(t, 'A').platform;
  assert.deepEqual(a?.origins.Hostname, [{ source: 'template', line: 10 }]);
  assert.deepEqual(a?.origins.PartSize, [{ source: 'template', line: 4 }]);
});

test('an unknown platform is an error listing the known ones', () => {
  const t = loadTemplate(INHERIT).template;
  assert.ok(t);
  assert.match(mergedPlatform(t, 'NOPE').errors[0]?.message ?? '', /no platform 'NOPE'.*A, B, C/);
});

test('an unknown key names the platform, the key and its line', () => {
  assert.deepEqual(errorsOf('P:\n  PartSize: 10\n  Packages: [vim]\n'), ["t.yaml:3: platform 'P': unknown key 'Packages'"]);
});

test('a wrong type names the platform, the key and its line', () => {
  assert.deepEqual(errorsOf('P:\n  Kernel: linux-image-amd64\n  PartSize: "big"\n'),
    ["t.yaml:3: platform 'P', key 'PartSize': Expected number, received string"]);
});

test('a bad list item names its own line', () => {
  assert.deepEqual(errorsOf('P:\n  ExtraPackages:\n    - vim\n    - Vim\n'),
    ["t.yaml:4: platform 'P', key 'ExtraPackages[1]': 'Vim' is not a valid Debian package name (or -name to exclude one)"]);
});

test('amd64 and arm64 are the architectures a platform may name; another is refused, listing them', () => {
  assert.deepEqual(errorsOf('P:\n  Architecture: arm64\n'), []);
  assert.match(errorsOf('P:\n  Architecture: armhf\n')[0] ?? '', /^t.yaml:2: .*unknown architecture 'armhf'; IMG builds amd64 \(x86_64\), arm64 \(aarch64\)/);
});

test('the shipped template has arm64 platforms, made for arm64: its kernel and console', () => {
  const t = loadDefaultTemplate().template!;
  for (const p of ['MINIMAL-ARM64', 'SERVER-ARM64']) {
    assert.equal(platformArchitecture(t, p), 'arm64', p);
    const g = generateKickstart(t, p, '');
    assert.deepEqual(g.errors, []);
    assert.equal(g.arch, 'arm64');
    assert.match(g.kickstart ?? '', /^linux-image-arm64$/m);
    assert.match(g.kickstart ?? '', /--append="console=ttyAMA0,115200n8"/);
  }
  assert.equal(generateKickstart(t, 'MINIMAL', '').arch, 'amd64');
});

test('scalar values are validated: host name, sizes, timeout, single-line strings, user', () => {
  const errs = errorsOf([
    'P:', '  Hostname: "bad host"', '  PartSize: 0', '  BootloaderTimeout: -1',
    '  BootloaderAppend: "a\\nb"', '  User: {Name: Root, Shell: /bin/zsh}',
  ].join('\n'));
  assert.equal(errs.length, 6, errs.join('\n'));
  for (const line of [2, 3, 4, 5, 6]) assert.ok(errs.some((e) => e.startsWith(`t.yaml:${line}:`)), `line ${line}: ${errs.join('\n')}`);
});

test('a repeated key whose values are lists merges them with a warning naming both lines', () => {
  const r = loadTemplate('P:\n  ExtraPackages: [vim]\n  Hostname: h\n  ExtraPackages:\n    - gcc\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.template?.platforms.get('P')?.values.ExtraPackages, ['vim', 'gcc']);
  assert.deepEqual(formatTemplateIssues('t.yaml', r.warnings),
    ["t.yaml:4: key 'ExtraPackages' is repeated on lines 2 and 4; its lists are merged in order"]);
  assert.deepEqual(r.template?.platforms.get('P')?.origins.ExtraPackages, [
    { source: 'template', line: 2 }, { source: 'template', line: 5 }]);
});

test('a repeated scalar key is an error naming both lines', () => {
  assert.deepEqual(errorsOf('P:\n  PartSize: 1\n  PartSize: 2\n'),
    ["t.yaml:3: key 'PartSize' is repeated on lines 2 and 3; only lists may be repeated"]);
});

test('a repeated platform is an error too', () => {
  assert.match(errorsOf('P:\n  PartSize: 1\nQ: {}\nP:\n  Hostname: h\n')[0] ?? '', /^t.yaml:4: key 'P' is repeated on lines 1 and 4/);
});

test('YAML syntax errors carry js-yaml\'s line', () => {
  assert.match(errorsOf('P:\n  ExtraPackages: [vim\n  Hostname: x\n')[0] ?? '', /^t.yaml:\d+: /);
  assert.match(errorsOf('P:\n  a: 1\n b: 2\n')[0] ?? '', /^t.yaml:3: /);
});

test('a template must be a mapping, and each platform a mapping', () => {
  assert.match(errorsOf('- a\n- b\n')[0] ?? '', /a template is a YAML mapping/);
  assert.match(errorsOf('')[0] ?? '', /a template is a YAML mapping/);
  assert.deepEqual(errorsOf('P: 3\n'), ["t.yaml:1: platform 'P' must be a mapping of settings"]);
});

test('Repositories are validated: fields, URL, duplicates', () => {
  const errs = errorsOf([
    'Repositories:',
    '  - {Name: debian, Suite: bookworm, Components: [main]}',
    '  - {Name: debian, Suite: bookworm, Components: [main]}',
    '  - {Name: extra, Url: "ftp://example.invalid/x", Suite: bookworm, Components: [main]}',
    '  - {Name: other, Suite: bookworm, Components: []}',
    '  - {Name: more, Suite: bookworm, Components: [main], Mirror: x}',
  ].join('\n'));
  assert.equal(errs.length, 4, errs.join('\n'));
  assert.match(errs[0] ?? '', /^t.yaml:3: repository 'debian' is defined twice \(first on line 2\)/);
  assert.match(errs[1] ?? '', /^t.yaml:4: Repositories\[2\], key 'Url': must be an http, https or file URL/);
  assert.match(errs[2] ?? '', /^t.yaml:5: .*at least one component/);
  assert.match(errs[3] ?? '', /^t.yaml:6: Repositories\[4\], key 'Mirror': unknown key/);
});

test('PostScripts: text or a mapping; a line that would end the %post is refused', () => {
  const ok = loadTemplate('PostScripts:\n  a: |\n    echo a\n  b:\n    Script: "print(1)"\n    Interpreter: /usr/bin/python3\n    NoChroot: true\n');
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.template?.postScripts.get('a')?.body, 'echo a');
  assert.equal(ok.template?.postScripts.get('b')?.interpreter, '/usr/bin/python3');
  assert.equal(ok.template?.postScripts.get('b')?.nochroot, true);
  assert.match(errorsOf('PostScripts:\n  a: |\n    echo a\n    %end\n    echo b\n')[0] ?? '', /^t.yaml:2: post-script 'a': its line 2 would end/);
  assert.match(errorsOf('PostScripts:\n  a: {Script: x, Interpreter: bash}\n')[0] ?? '', /^t.yaml:2: .*Interpreter.*absolute path/);
  assert.match(errorsOf('PostScripts:\n  a: 3\n')[0] ?? '', /^t.yaml:2: /);
});

test('Groups map names to valid Debian package names', () => {
  const t = loadTemplate('Groups:\n  Standard System: [less, vim-tiny]\n  Empty:\n');
  assert.deepEqual(t.errors, []);
  assert.deepEqual(t.template?.groups, { 'Standard System': ['less', 'vim-tiny'], Empty: [] });
  assert.deepEqual(errorsOf('Groups:\n  Desk:\n    - task-xfce-desktop\n    - Xorg\n'),
    ["t.yaml:4: group 'Desk' item 2: 'Xorg' is not a valid Debian package name"]);
});

test('YAML merge keys are refused with a pointer to Default', () => {
  assert.match(errorsOf('base: &b {PartSize: 1}\nP:\n  <<: *b\n').join('\n'), /merge keys/);
});

test('the shipped template loads cleanly and has MINIMAL, SERVER and DESKTOP', () => {
  const r = loadDefaultTemplate();
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
  assert.ok(r.template);
  assert.equal(r.template.file, defaultTemplatePath);
  for (const p of ['MINIMAL', 'SERVER', 'DESKTOP']) assert.ok(listPlatforms(r.template).includes(p), p);
  const debian = r.template.repositories.get('debian');
  assert.deepEqual(debian && { ...debian, line: 0 }, { Name: 'debian', Suite: 'trixie', Components: ['main'], line: 0 });
});

test('platformYaml prints the merged platform in schema order, stable across calls', () => {
  const t = loadTemplate(INHERIT).template;
  assert.ok(t);
  const p = mergedPlatform(t, 'A', 'gcc').platform;
  assert.ok(p);
  const text = platformYaml(p);
  assert.equal(text, platformYaml(p));
  assert.equal(text, [
    'A:', '  PartSize: 1024', '  Kernel: linux-image-amd64', '  Groups:', '    - Standard System', '  Repos:', '    - debian',
    '  ExtraPackages:', '    - systemd-sysv', '    - less', '    - gcc', '  Hostname: a-host', '',
  ].join('\n'));
  const again = loadTemplate(text);
  assert.deepEqual(again.template?.platforms.get('A')?.values, p.values);
});
