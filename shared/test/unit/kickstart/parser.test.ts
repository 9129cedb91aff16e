import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKsErrors, kickstartFromPlan, parseKickstart } from '@img/shared/kickstart';
import { tokenize } from '../../../src/kickstart/ks-tokenize.ts';

const FULL = `# a comment
lang en_US.UTF-8
keyboard --vckeymap=fi
timezone --utc Europe/Helsinki
rootpw --iscrypted $6$salt$hash
sshkey --username=alice "ssh-ed25519 AAAA alice@example"
user --name=alice --password=secret --plaintext --groups=sudo,adm
network --bootproto=dhcp --device=eth0 --hostname=box.example --activate
partition / --size 2048 --fstype=xfs --label=rootfs
bootloader --location=mbr --timeout=3 --append="quiet splash"
repo --name=debian --suite=trixie --components=main,contrib
repo --name=extra --baseurl=https://example.invalid/debian --suite=stable --components=main --key="https://example.invalid/key.asc"

%packages
  @Standard System
linux-image-amd64
# a package comment
vim
-nano
%end

%post --interpreter=/bin/bash --erroronfail --log=/root/post.log
echo "in the image"
  echo "%packages in the middle of a line is body text"
%unknown-word lines belong to the body
  %end
%post --nochroot
%end
`;

test('a full kickstart reads into the build plan', () => {
  const r = parseKickstart(FULL);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
  const p = r.plan;
  assert.ok(p);
  assert.equal(p.suite, 'trixie');
  assert.equal(p.architecture, 'amd64');
  assert.equal(p.lang, 'en_US.UTF-8');
  assert.equal(p.keyboard, 'fi');
  assert.deepEqual(p.timezone, { zone: 'Europe/Helsinki', utc: true });
  assert.deepEqual(p.rootpw, { password: '$6$salt$hash', iscrypted: true, lock: false });
  assert.deepEqual(p.users, [{ name: 'alice', password: 'secret', iscrypted: false, groups: ['sudo', 'adm'], sshkeys: ['ssh-ed25519 AAAA alice@example'] }]);
  assert.equal(p.hostname, 'box.example');
  assert.deepEqual(p.partitions, [{ mountpoint: '/', sizeMiB: 2048, fstype: 'xfs', label: 'rootfs' }]);
  assert.deepEqual(p.bootloader, { timeout: 3, append: 'quiet splash' });
  assert.deepEqual(p.repos, [
    { name: 'debian', suite: 'trixie', components: ['main', 'contrib'] },
    { name: 'extra', baseurl: 'https://example.invalid/debian', suite: 'stable', components: ['main'], key: 'https://example.invalid/key.asc' },
  ]);
  assert.deepEqual(p.packages, { include: ['linux-image-amd64', 'vim'], exclude: ['nano'], groups: ['Standard System'] });
  // The empty %post --nochroot is no script, as in pykickstart.
  assert.equal(p.post.length, 1);
  assert.deepEqual(p.post[0], {
    interpreter: '/bin/bash', nochroot: false, erroronfail: true, log: '/root/post.log', line: 22,
    body: 'echo "in the image"\n  echo "%packages in the middle of a line is body text"\n%unknown-word lines belong to the body',
  });

});

test('the suite defaults to trixie without repo lines; an empty kickstart is an empty plan', () => {
  const r = parseKickstart('');
  assert.deepEqual(r.errors, []);
  assert.equal(r.plan?.suite, 'trixie');
  assert.deepEqual(r.plan?.packages, { include: [], exclude: [], groups: [] });
});

test('CRLF line ends read like LF', () => {
  const r = parseKickstart(FULL.replace(/\n/g, '\r\n'));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.plan, parseKickstart(FULL).plan);
});

test('rootpw forms: plain by default, --plaintext, --lock without a password', () => {
  assert.deepEqual(parseKickstart('rootpw secret\n').plan?.rootpw, { password: 'secret', iscrypted: false, lock: false });
  assert.deepEqual(parseKickstart('rootpw --plaintext "two words"\n').plan?.rootpw, { password: 'two words', iscrypted: false, lock: false });
  assert.deepEqual(parseKickstart('rootpw --lock\n').plan?.rootpw, { password: '', iscrypted: false, lock: true });
  assert.deepEqual(parseKickstart('rootpw "--lock"\n').plan?.rootpw, { password: '--lock', iscrypted: false, lock: false });
});

function errs(text: string): string[] {
  return formatKsErrors('k.ks', parseKickstart(text).errors);
}

const ERROR_CASES: [string, string, string[]][] = [
  ['unknown command', 'lang C\nfrobnicate\n', ["k.ks:2: unknown command 'frobnicate'"]],
  ['unknown command with a did-you-mean', 'timzone UTC\n', ["k.ks:1: unknown command 'timzone' (did you mean 'timezone'?)"]],
  ['unknown option', 'part / --size=1 --grown\n', ['k.ks:1: unknown option --grown']],
  ['ambiguous option prefix', 'part / --on=sda --size=1\n', ['k.ks:1: ambiguous option --on (it could be --ondisk or --onpart or --onbiosdisk)']],
  ['single-dash option', 'timezone -utc UTC\n', ["k.ks:1: malformed option '-utc'"]],
  ['empty option name', 'part / --=3 --size=1\n', ["k.ks:1: malformed option '--=3'"]],
  ['flag with a value', 'timezone --utc=yes UTC\n', ['k.ks:1: option --utc takes no value']],
  ['option without value', 'part / --size\n', ['k.ks:1: option --size needs a value']],
  ['option given twice', 'part / --size=1 --size=2\n', ['k.ks:1: option --size is given twice']],
  ['missing argument', 'lang\n', ['k.ks:1: missing language']],
  ['extra argument', 'lang C POSIX\n', ["k.ks:1: unexpected argument 'POSIX'"]],
  ['missing required option', 'repo --suite=bookworm --components=main\n', ['k.ks:1: missing --name']],
  ['an RPM repository', 'repo --name=oss --baseurl=http://repo.example/oss/ia32/packages/ --save --debuginfo\n',
    ['k.ks:1: an RPM repository cannot be read by apt: a Debian repository needs --suite and --components, for example `repo --name=debian --suite=trixie --components=main`']],
  ['an RPM mirror list', 'repo --name=updates --mirrorlist=https://mirrors.example/list --suite=x --components=main\n', ['k.ks:1: an RPM repository cannot be read by apt']],
  ['missing suite', 'repo --name=x --components=main\n', ['k.ks:1: missing --suite']],
  ['bad size', 'part / --size=1.5G\n', ['k.ks:1: --size=1.5G is not a size in MiB']],
  ['zero size', 'part / --size=0\n', ['k.ks:1: --size=0 is not a size in MiB']],
  ['bad fstype', 'part / --size=10 --fstype=ntfs\n', ["k.ks:1: file system 'ntfs' is not supported"]],
  ['btrfs root', 'part / --size=10 --fstype=btrfs\n', ['k.ks:1: a btrfs root file system is not built']],
  ['another partition', 'part /srv --size=10\n', ['k.ks:1: part /srv: only the root partition (part /) is built']],
  ['a boot partition', 'part /boot --size=500 --fstype=ext4\n', ['k.ks:1: part /boot: IMG makes the boot partitions an image type needs itself']],
  ['swap', 'part swap --size=1024\n', ['k.ks:1: swap partitions are not built']],
  ['LVM physical volume', 'part pv.01 --size=1 --grow\n', ['k.ks:1: LVM is not built']],
  ['LVM', 'volgroup vg pv.01\nlogvol / --vgname=vg --name=root --size=4000\n', ["k.ks:1: 'volgroup' is not supported: LVM is not built", "k.ks:2: 'logvol' is not supported: LVM is not built"]],
  ['RAID', 'raid / --level=1 --device=0 raid.01 raid.02\n', ["k.ks:1: 'raid' is not supported: software RAID is not built"]],
  ['btrfs', 'btrfs / --subvol --name=root fedora\n', ["k.ks:1: 'btrfs' is not supported: btrfs volumes are not built"]],
  ['encryption', 'part / --size=4096 --encrypted --passphrase=x\n', ['k.ks:1: --encrypted: IMG does not encrypt the root file system']],
  ['a boot loader password', 'bootloader --password=x\n', ['k.ks:1: IMG does not set a boot loader password']],
  ['unbalanced double quote', 'bootloader --append="quiet\n', ['k.ks:1: unbalanced double quote']],
  ['unbalanced single quote', "rootpw 'abc\n", ['k.ks:1: unbalanced single quote']],
  ['duplicate user', 'user --name=a\nuser --name=a\n', ["k.ks:2: user 'a' is defined twice (first on line 1)"]],
  ['duplicate repo', 'repo --name=d --suite=sid --components=main\nrepo --name=d --suite=sid --components=main\n', ["k.ks:2: repository 'd' is defined twice"]],
  ['unknown suite', 'repo --name=d --suite=buster --components=main\n',
    ["k.ks:1: --suite=buster: unknown suite 'buster'; IMG builds trixie (stable), bookworm (oldstable), forky (testing), sid (unstable)"]],
  ['suite by its status', 'repo --name=d --suite=stable --components=main\n', ["k.ks:1: --suite=stable: unknown suite 'stable'; IMG builds trixie"]],
  ['two suites', 'repo --name=a --suite=trixie --components=main\n\nrepo --name=b --suite=bookworm-backports --components=main\n',
    ['k.ks:3: repo --suite=bookworm-backports is bookworm, but line 1 (repo --suite=trixie) is trixie: an image is built from one Debian suite']],
  ['bad hostname', 'network --hostname=a_b\n', ["k.ks:1: 'a_b' is not a valid host name"]],
  ['bad timeout', 'bootloader --timeout=-1\n', ['k.ks:1: --timeout=-1 is not a number of seconds']],
  ['bad baseurl', 'repo --name=x --baseurl=ftp://h/x --suite=s --components=main\n', ['k.ks:1: --baseurl=ftp://h/x is not an http']],
  ['sshkey for nobody', 'sshkey --username=bob "ssh-ed25519 AAAA"\n', ["k.ks:1: sshkey for 'bob', who has no user line"]],
  ['crypted without password', 'user --name=a --iscrypted\n', ['k.ks:1: --iscrypted needs --password']],
  ['bad unit name', 'services --enabled="ssh,a b"\n', ["k.ks:1: 'a b' is not a systemd unit name"]],
  ['a unit enabled and disabled', 'services --enabled=ssh --disabled=ssh\n', ['k.ks:1: ssh is both enabled and disabled']],
  ['bad X layout', "keyboard --xlayouts='cz (qwerty'\n", ["k.ks:1: 'cz (qwerty' is not an X keyboard layout"]],
  ['bad NTP server', 'timezone --ntpservers=a_b UTC\n', ["k.ks:1: 'a_b' is not an NTP server's host name"]],
  ['%end alone', 'lang C\n%end\n', ['k.ks:2: %end outside a section']],
  ['unterminated %post', 'lang C\n%post\necho hi\n', ['k.ks:2: %post section is not terminated by %end']],
  ['unterminated %packages before %post', '%packages\nvim\n%post\necho\n%end\n', ['k.ks:1: %packages section is not terminated by %end']],
  ['unterminated %pre', '%pre\necho\n', ['k.ks:1: %pre section is not terminated by %end']],
  ['bad package name', '%packages\nvim\nVim\n%end\n', ["k.ks:3: 'Vim' is not a Debian package name (lowercase letters, digits, +, - and . only; at least two characters; starting with a letter or digit); perhaps 'vim'"]],
  ['an RPM package name', '%packages\nNetworkManager\n%end\n', ["k.ks:2: 'NetworkManager' is not a Debian package name (lowercase letters, digits, +, - and . only; at least two characters; starting with a letter or digit); perhaps 'network-manager' or 'networkmanager'"]],
  ['bad exclusion', '%packages\n-x\n%end\n', ["k.ks:2: 'x' is not a Debian package name"]],
  ['a glob', '%packages\nvim*\n-iwl*-firmware\n%end\n', ["k.ks:2: 'vim*' is a glob", "k.ks:3: 'iwl*-firmware' is a glob"]],
  ['an environment', '%packages\n@^workstation-product-environment\n%end\n', ["k.ks:2: '@^workstation-product-environment' selects a Fedora environment"]],
  ['an excluded group', '%packages\n-@dial-up\n%end\n', ["k.ks:2: '-@dial-up' excludes a group"]],
  ['a group with --optional', '%packages\n@core --optional\n%end\n', ['k.ks:2: @core --optional: a group here is one fixed list of packages']],
  ['a module stream', '%packages\n@nodejs:10\n%end\n', ["k.ks:2: '@nodejs:10' is a DNF module stream"]],
  ['empty group', '%packages\n@\n%end\n', ['k.ks:2: empty group name after @']],
  ['unknown %packages option', '%packages --ignoremising\n%end\n', ['k.ks:1: unknown option --ignoremising']],
  ['unknown %post option', '%post --chroot\n%end\n', ['k.ks:1: unknown option --chroot']],
  ['relative interpreter', '%post --interpreter=bash\n%end\n', ['k.ks:1: --interpreter=bash is not an absolute path']],
  ['unknown section', '%frobnicate\nnot a command\n%end\nlang C\n', ['k.ks:1: unknown section %frobnicate']],
  ['%include', '%include other.ks\n', ['k.ks:1: %include is not supported: IMG reads one file; flatten the kickstart first, for example with ksflatten']],
  ['%ksappend', '%ksappend repos/default.ks\nlang C\n', ['k.ks:1: %ksappend is not supported']],
  ['%include in %packages', '%packages\nvim\n%include more.ks\n%end\n', ['k.ks:3: %include is not supported']],
  ['trailing backslash', 'lang C \\\n', ['k.ks:1: backslash at the end of the line']],
];

for (const [what, text, expected] of ERROR_CASES) {
  test(`error: ${what}`, () => {
    const got = errs(text);
    assert.equal(got.length, expected.length, got.join('\n'));
    expected.forEach((e, i) => assert.ok(got[i]?.startsWith(e), `expected ${e}\n     got ${got[i]}`));
    assert.equal(parseKickstart(text).plan, undefined);
  });
}

test('every error carries the offending source line as text', () => {
  const r = parseKickstart('lang C\n  frobnicate --now  \n%packages\nBAD\n%end\n');
  assert.deepEqual(r.errors.map((e) => [e.line, e.text]), [[2, '  frobnicate --now  '], [4, 'BAD']]);
});

test('errors do not stop the reading: each bad line is reported', () => {
  assert.equal(errs('a\nb\nc\nlang C\nlang D\n').length, 3);
});

test('a command given twice counts once, the last one, as in anaconda, with a warning', () => {
  const r = parseKickstart('lang C\n\nlang en_US.UTF-8\ntimezone UTC\ntimezone --utc Europe/Helsinki\nnetwork --hostname=a\nnetwork --hostname=b\n');
  assert.deepEqual(r.errors, []);
  assert.equal(r.plan?.lang, 'en_US.UTF-8');
  assert.deepEqual(r.plan?.timezone, { zone: 'Europe/Helsinki', utc: true });
  assert.equal(r.plan?.hostname, 'b');
  assert.deepEqual(formatKsErrors('k.ks', r.warnings), [
    'k.ks:3: lang is given again (first on line 1); the last one counts, as in anaconda',
    'k.ks:5: timezone is given again (first on line 4); the last one counts, as in anaconda',
    'k.ks:7: the host name is set again (first on line 6); the last one counts, as in anaconda',
  ]);
});

test('a section IMG does not run is skipped whole with one warning, so its body lines are not read as commands', () => {
  for (const section of ['%pre', '%pre-install', '%onerror', '%traceback', '%addon com_redhat_kdump --disable', '%anaconda', '%attachment', '%pack']) {
    const r = parseKickstart(`${section}\nnot a command\nanother --one\n%end\nlang C\n`);
    assert.deepEqual(r.errors, [], section);
    assert.equal(r.warnings.length, 1, section);
    assert.match(r.warnings[0]?.message ?? '', /^section %[a-z-]+ is skipped to its %end: /, section);
    assert.equal(r.plan?.lang, 'C');
  }
});

test('repeated packages and a package both listed and excluded are warnings', () => {
  const r = parseKickstart('%packages\nvim\nvim\nnano\n-nano\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings.map((w) => w.line), [3, 5]);
  assert.deepEqual(r.plan?.packages, { include: ['vim'], exclude: ['nano'], groups: [] });
});

test('the tokenizer honours quotes, escapes and comments', () => {
  assert.deepEqual(tokenize(`a "b c" 'd e' f\\ g "h\\"i" 'j\\k' "l\\m" # comment`).tokens?.map((t) => t.value),
    ['a', 'b c', 'd e', 'f g', 'h"i', 'j\\k', 'l\\m']);
  assert.deepEqual(tokenize('--append="quiet splash" x"y"z').tokens, [
    { value: '--append=quiet splash', quoted: false }, { value: 'xyz', quoted: false }]);
  // As shlex.split(comments=True): an unquoted # starts a comment even inside a word.
  assert.deepEqual(tokenize('"" a#b').tokens?.map((t) => t.value), ['', 'a']);
  assert.deepEqual(tokenize('keyboard us# Root password').tokens?.map((t) => t.value), ['keyboard', 'us']);
  assert.deepEqual(tokenize('x "a#b" c').tokens?.map((t) => t.value), ['x', 'a#b', 'c']);
  assert.equal(tokenize('"abc').error, 'unbalanced double quote');
});

test('values needing quotes survive a write and a read', () => {
  const r = parseKickstart('rootpw --plaintext "p a\\"s#s\\\\"\nbootloader --append="a \\"b\\" $c"\n');
  assert.deepEqual(r.errors, []);
  assert.equal(r.plan?.rootpw?.password, 'p a"s#s\\');
  const again = parseKickstart(kickstartFromPlan(r.plan!));
  assert.deepEqual(again.plan, r.plan);
});

test('a 1 MB kickstart with as many packages as allowed parses whole (its speed: deploy/bench/kickstart-parse.ts)', () => {
  const lines = ['lang en_US.UTF-8', 'repo --name=debian --suite=bookworm --components=main', '%packages'];
  // As many packages as a kickstart may list; the rest of the megabyte is a long %post.
  for (let i = 0; i < 5000; i++) lines.push(`package-number-${i}`);
  lines.push('%end', '%post');
  let n = 0;
  for (let size = lines.join('\n').length; size < 1_000_000; n++) {
    const line = `echo "line ${n} of shell in a long post script"`;
    lines.push(line);
    size += line.length + 1;
  }
  lines.push('%end');
  const r = parseKickstart(lines.join('\n'));
  assert.deepEqual(r.errors, []);
  assert.equal(r.plan?.packages.include.length, 5000);
  assert.equal(r.plan?.packages.include[4999], 'package-number-4999');
  assert.equal(r.plan?.post.length, 1);
  assert.equal(r.plan?.post[0]?.body.trimEnd().split('\n').length, n);
});

test('past 100 errors the reading stops, saying so', () => {
  const r = parseKickstart('frobnicate\n'.repeat(500));
  assert.equal(r.errors.length, 101);
  assert.match(r.errors[100]?.message ?? '', /too many errors/);
});
