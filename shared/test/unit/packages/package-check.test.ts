// The check of a kickstart's packages against a package index, on a small index of real Debian names:
// what a person reads for each kind of mistake, on which line, and the caps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKsErrors, loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { checkPackages, PackageIndexView, unitsForPlan, type UnitPackages } from '@img/shared/packages';

const names: Record<string, string[]> = {
  vim: ['editor'], 'vim-tiny': ['editor'], nano: ['editor'], hostname: [], 'openssh-server': ['ssh-server'], 'openssh-client': ['ssh-client'],
  'network-manager': [], modemmanager: [], 'linux-image-amd64': [], 'linux-image-cloud-amd64': [], 'systemd-sysv': [], 'exim4-daemon-light': ['mail-transport-agent'],
  'postfix': ['mail-transport-agent'], 'dhcpcd-base': ['dhcpcd5-virtual'], 'apt-utils': [], 'bash-completion': [], 'ca-certificates': [], iproute2: [], less: [],
  locales: [], netbase: [], 'grub-pc': [], 'libssl-dev': [],
};
const amd64 = new PackageIndexView([new Map(Object.entries(names)) as UnitPackages], 'amd64', new Date('2026-01-01T00:00:00Z'));
const arm64 = new PackageIndexView([new Map(Object.entries({ ...names, 'grub-pc': undefined, 'grub-efi-arm64': [] }).filter(([, v]) => v) as [string, string[]][])], 'arm64', new Date('2026-01-01T00:00:00Z'));
const groups = loadDefaultTemplate().template?.groups;
assert.ok(groups);
const described = 'Debian trixie (trixie, trixie-updates, trixie-security; main) for amd64';

function check(text: string, view = amd64) {
  const parsed = parseKickstart(text, { groups });
  const r = checkPackages(text, parsed, view, { described, groups, elsewhere: [view === amd64 ? arm64 : amd64] });
  return { errors: formatKsErrors('k.ks', r.errors), warnings: formatKsErrors('k.ks', r.warnings), raw: r };
}

test('a kickstart of real packages passes; a virtual package one package provides is installable', () => {
  const r = check('%packages\nvim\nhostname\ndhcpcd5-virtual\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
});

test('a misspelt package, an RPM name and the kernel: an error on its line, with the name meant', () => {
  const r = check('lang C\n%packages\nopenssh-sever\nvim-enhanced\nkernel\nopenssh-clients\n%end\n');
  assert.deepEqual(r.errors, [
    `k.ks:3: package 'openssh-sever' is not in ${described}; did you mean 'openssh-server'?`,
    `k.ks:4: package 'vim-enhanced' is not in ${described}; did you mean 'vim'?`,
    `k.ks:5: package 'kernel' is not in ${described}; did you mean 'linux-image-amd64'?`,
    `k.ks:6: package 'openssh-clients' is not in ${described}; did you mean 'openssh-client'?`,
  ]);
  assert.deepEqual(r.raw.errors.map((e) => e.text), ['openssh-sever', 'vim-enhanced', 'kernel', 'openssh-clients']);
});

test('an RPM spelling the parser refuses gets the Debian name the index has', () => {
  const r = check('%packages\nNetworkManager\nModemManager\n%end\n');
  assert.deepEqual(r.errors, [
    `k.ks:2: 'NetworkManager' is not a Debian package name (they are lowercase, with - where RPM names have _); ${described} has 'network-manager'`,
    `k.ks:3: 'ModemManager' is not a Debian package name (they are lowercase, with - where RPM names have _); ${described} has 'modemmanager'`,
  ]);
});

test('a package of the other architecture says where it is', () => {
  assert.deepEqual(check('%packages\ngrub-efi-arm64\n%end\n').errors, [`k.ks:2: package 'grub-efi-arm64' is not in ${described} (it is there for arm64)`]);
  const armDescribed = described.replace('amd64', 'arm64');
  const text = '%packages\ngrub-pc\n%end\n';
  const parsed = parseKickstart(text, { arch: 'arm64' });
  const r = checkPackages(text, parsed, arm64, { described: armDescribed, elsewhere: [amd64] });
  assert.deepEqual(formatKsErrors('k.ks', r.errors), [`k.ks:2: package 'grub-pc' is not in ${armDescribed} (it is there for amd64)`]);
});

test('a virtual package several packages provide must be named: apt does not choose', () => {
  assert.deepEqual(check('%packages\nmail-transport-agent\n%end\n').errors, [
    `k.ks:2: 'mail-transport-agent' is a virtual package of ${described}, provided by 'exim4-daemon-light', 'postfix': apt does not choose between them, so name the one to install`,
  ]);
});

test('under --ignoremissing a missing package is a warning: the build skips it', () => {
  const r = check('%packages --ignoremissing\nvim\nfake-package-name\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [`k.ks:3: package 'fake-package-name' is not in ${described}: the build skips it (%packages --ignoremissing)`]);
});

test('an exclusion of a package the suite does not have changes nothing: a warning', () => {
  const r = check('%packages\nvim\n-plymouth\n-vim-minimal\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    `k.ks:3: -plymouth excludes a package ${described} does not have, so it changes nothing`,
    `k.ks:4: -vim-minimal excludes a package ${described} does not have, so it changes nothing; did you mean 'vim-tiny'?`,
  ]);
});

test('a group whose packages the suite lacks is an error on the group\'s line', () => {
  const r = check('%packages\n@Standard System\n@Networking\n%end\n');
  assert.deepEqual(r.errors, [`k.ks:3: @Networking adds 'ifupdown', 'isc-dhcp-client', which ${described} does not have (the group table of this service needs an update: tell its operator)`]);
});

test('the parse\'s errors and warnings are kept, in line order with the check\'s', () => {
  const r = check('text\n%packages\nvim-enhanced\n%end\nfrobnicate\n');
  assert.deepEqual(r.errors.map((e) => e.split(':').slice(0, 2).join(':')), ['k.ks:3', 'k.ks:5']);
  assert.deepEqual(r.warnings.map((e) => e.split(':').slice(0, 2).join(':')), ['k.ks:1']);
});

test('warnings are capped like errors: 250,000 repeats make 100 warnings and one saying how many more', () => {
  const text = `%packages\n${'vim\n'.repeat(250_000)}%end\n`;
  const started = Date.now();
  const r = check(text);
  assert.deepEqual(r.errors, []);
  assert.equal(r.warnings.length, 101);
  assert.match(r.warnings[100] ?? '', /^k\.ks:103: 249899 more warnings from line 103 on are not shown \(at most 100 are\)$/);
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
});

test('the units of a plan: the suite with its updates and security suites, each component, the architecture; a repository of its own is not checked', () => {
  const trixie = unitsForPlan(parseKickstart('repo --name=d --suite=trixie --components=main,contrib\n').draft);
  assert.ok('units' in trixie);
  assert.deepEqual(trixie.units.map((u) => `${u.suite}/${u.component}/${u.architecture}`), [
    'trixie/main/amd64', 'trixie/contrib/amd64', 'trixie-updates/main/amd64', 'trixie-updates/contrib/amd64', 'trixie-security/main/amd64', 'trixie-security/contrib/amd64',
  ]);
  assert.equal(trixie.described, 'Debian trixie (trixie, trixie-updates, trixie-security; main, contrib) for amd64');
  const sid = unitsForPlan(parseKickstart('', { defaultSuite: 'sid', arch: 'arm64' }).draft);
  assert.ok('units' in sid);
  assert.deepEqual(sid.units.map((u) => `${u.suite}/${u.component}/${u.architecture}`), ['sid/main/arm64']);
  const own = unitsForPlan(parseKickstart('repo --name=mine --baseurl=https://example.org/debian --suite=stable --components=main\n').draft);
  assert.ok('skipped' in own);
  assert.match(own.skipped, /repository of its own \(repo --name=mine\)/);
});
