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
partition / --size 2048 --fstype=xfs
part /srv --size=100
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
  assert.deepEqual(p.partitions, [{ mountpoint: '/', sizeMiB: 2048, fstype: 'xfs' }, { mountpoint: '/srv', sizeMiB: 100, fstype: 'ext4' }]);
  assert.deepEqual(p.bootloader, { timeout: 3, append: 'quiet splash' });
  assert.deepEqual(p.repos, [
    { name: 'debian', suite: 'trixie', components: ['main', 'contrib'] },
    { name: 'extra', baseurl: 'https://example.invalid/debian', suite: 'stable', components: ['main'], key: 'https://example.invalid/key.asc' },
  ]);
  assert.deepEqual(p.packages, { include: ['linux-image-amd64', 'vim'], exclude: ['nano'], groups: ['Standard System'] });
  assert.equal(p.post.length, 2);
  assert.deepEqual(p.post[0], {
    interpreter: '/bin/bash', nochroot: false, erroronfail: true, log: '/root/post.log', line: 23,
    body: 'echo "in the image"\n  echo "%packages in the middle of a line is body text"',
  });
  assert.deepEqual(p.post[1], { interpreter: '/bin/sh', nochroot: true, body: '', line: 27 });
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
  ['unknown command', 'lang C\ninstall\n', ["k.ks:2: unknown command 'install'"]],
  ['unknown option', 'part / --size=1 --grow\n', ['k.ks:1: unknown option --grow']],
  ['single-dash option', 'timezone -utc UTC\n', ["k.ks:1: malformed option '-utc'"]],
  ['empty option name', 'part / --=3 --size=1\n', ["k.ks:1: malformed option '--=3'"]],
  ['flag with a value', 'timezone --utc=yes UTC\n', ['k.ks:1: option --utc takes no value']],
  ['option without value', 'part / --size\n', ['k.ks:1: option --size needs a value']],
  ['option given twice', 'part / --size=1 --size=2\n', ['k.ks:1: option --size is given twice']],
  ['missing argument', 'lang\n', ['k.ks:1: missing language']],
  ['extra argument', 'lang C POSIX\n', ["k.ks:1: unexpected argument 'POSIX'"]],
  ['missing required option', 'repo --suite=bookworm --components=main\n', ['k.ks:1: missing --name']],
  ['missing suite', 'repo --name=x --components=main\n', ['k.ks:1: missing --suite']],
  ['bad size', 'part / --size=1.5G\n', ['k.ks:1: --size=1.5G is not a size in MiB']],
  ['zero size', 'part / --size=0\n', ['k.ks:1: --size=0 is not a size in MiB']],
  ['bad fstype', 'part / --size=10 --fstype=ntfs\n', ["k.ks:1: file system 'ntfs' is not supported"]],
  ['relative mount point', 'part srv --size=10\n', ["k.ks:1: mount point 'srv' must be an absolute path"]],
  ['unbalanced double quote', 'bootloader --append="quiet\n', ['k.ks:1: unbalanced double quote']],
  ['unbalanced single quote', "rootpw 'abc\n", ['k.ks:1: unbalanced single quote']],
  ['duplicate lang', 'lang C\n\nlang en_US.UTF-8\n', ['k.ks:3: duplicate lang (first on line 1)']],
  ['duplicate user', 'user --name=a\nuser --name=a\n', ["k.ks:2: user 'a' is defined twice (first on line 1)"]],
  ['duplicate repo', 'repo --name=d --suite=sid --components=main\nrepo --name=d --suite=sid --components=main\n', ["k.ks:2: repository 'd' is defined twice"]],
  ['unknown suite', 'repo --name=d --suite=buster --components=main\n',
    ["k.ks:1: --suite=buster: unknown suite 'buster'; IMG builds trixie (stable), bookworm (oldstable), forky (testing), sid (unstable)"]],
  ['suite by its status', 'repo --name=d --suite=stable --components=main\n', ["k.ks:1: --suite=stable: unknown suite 'stable'; IMG builds trixie"]],
  ['two suites', 'repo --name=a --suite=trixie --components=main\n\nrepo --name=b --suite=bookworm-backports --components=main\n',
    ['k.ks:3: repo --suite=bookworm-backports is bookworm, but line 1 (repo --suite=trixie) is trixie: an image is built from one Debian suite']],
  ['hostname twice', 'network --hostname=a\nnetwork --hostname=b\n', ['k.ks:2: the host name is set twice (first on line 1)']],
  ['bad hostname', 'network --hostname=a_b\n', ["k.ks:1: 'a_b' is not a valid host name"]],
  ['bad timeout', 'bootloader --timeout=-1\n', ['k.ks:1: --timeout=-1 is not a number of seconds']],
  ['bad baseurl', 'repo --name=x --baseurl=ftp://h/x --suite=s --components=main\n', ['k.ks:1: --baseurl=ftp://h/x is not an http']],
  ['sshkey for nobody', 'sshkey --username=bob "ssh-ed25519 AAAA"\n', ["k.ks:1: sshkey for 'bob', who has no user line"]],
  ['crypted without password', 'user --name=a --iscrypted\n', ['k.ks:1: --iscrypted needs --password']],
  ['%end alone', 'lang C\n%end\n', ['k.ks:2: %end outside a section']],
  ['unterminated %post', 'lang C\n%post\necho hi\n', ['k.ks:2: %post section is not terminated by %end']],
  ['unterminated %packages before %post', '%packages\nvim\n%post\necho\n%end\n', ['k.ks:1: %packages section is not terminated by %end']],
  ['bad package name', '%packages\nvim\nVim\n%end\n', ["k.ks:3: 'Vim' is not a valid Debian package name"]],
  ['bad exclusion', '%packages\n-x\n%end\n', ["k.ks:2: 'x' is not a valid Debian package name"]],
  ['empty group', '%packages\n@\n%end\n', ['k.ks:2: empty group name after @']],
  ['inline comment in %packages', '%packages\nvim # editor\n%end\n', ["k.ks:2: 'vim # editor' is not a valid"]],
  ['%packages option', '%packages --ignoremissing\n%end\n', ['k.ks:1: unknown option --ignoremissing (%packages takes no options)']],
  ['two %packages', '%packages\n%end\n%packages\n%end\n', ['k.ks:3: duplicate %packages section (first on line 1)']],
  ['unknown %post option', '%post --chroot\n%end\n', ['k.ks:1: unknown option --chroot']],
  ['relative interpreter', '%post --interpreter=bash\n%end\n', ['k.ks:1: --interpreter=bash is not an absolute path']],
  ['foreign section', '%pre\necho\n%end\nlang C\n', ['k.ks:1: section %pre is not supported']],
  ['unknown directive', '%include other.ks\n', ["k.ks:1: unknown directive '%include'"]],
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
  assert.equal(errs('a\nb\nc\nlang C\nlang D\n').length, 4);
});

test('a foreign section is skipped whole, so its body lines are not read as commands', () => {
  assert.deepEqual(errs('%pre\nnot a command\n%end\n').length, 1);
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
  assert.deepEqual(tokenize('"" a#b').tokens?.map((t) => t.value), ['', 'a#b']);
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
