// What IMG does with each kind of line a real kickstart has: honoured into the build plan, accepted
// with a warning that names the line and says why it means nothing here, or refused. (The refusals'
// messages are in parser.test.ts; the real files' reports in real/.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKsErrors, kickstartFromPlan, parseKickstart } from '@img/shared/kickstart';

const HONOURED = `keyboard --vckeymap=cz --xlayouts='cz (qwerty),us' --switch=grp:alt_shift_toggle
timezone Europe/Prague --utc --ntpservers=ntp.example.org,0.pool.ntp.org
part / --size=4096 --fstype=ext4 --label=rootfs
services --disabled="sshd, rdisc" --enabled=systemd-timesyncd,rpcbind.socket
%packages --excludedocs --ignoremissing
vim    # the editor
@Standard System   # a group
-nano
%end
%post --log=/root/post.log
echo in the image
%end
%post --nochroot --logfile=/mnt/sysimage/root/nochroot.log
echo "$INSTALL_ROOT"
%end
`;

test('the honoured constructs reach the build plan, and the plan written out reads back the same', () => {
  const r = parseKickstart(HONOURED);
  assert.deepEqual(r.errors, []);
  const p = r.plan;
  assert.ok(p);
  assert.equal(p.keyboard, 'cz');
  assert.deepEqual(p.xkb, { layouts: ['cz', 'us'], variants: ['qwerty', ''], options: ['grp:alt_shift_toggle'] });
  assert.deepEqual(p.timezone, { zone: 'Europe/Prague', utc: true });
  assert.deepEqual(p.ntp, { servers: ['ntp.example.org', '0.pool.ntp.org'] });
  assert.deepEqual(p.partitions, [{ mountpoint: '/', sizeMiB: 4096, fstype: 'ext4', label: 'rootfs' }]);
  assert.deepEqual(p.services, { enabled: ['systemd-timesyncd', 'rpcbind.socket'], disabled: ['sshd', 'rdisc'] });
  assert.deepEqual(p.packages, { include: ['vim'], exclude: ['nano'], groups: ['Standard System'], excludedocs: true, ignoremissing: true });
  assert.equal(p.post[0]?.log, '/root/post.log');
  assert.equal(p.post[1]?.log, '/mnt/sysimage/root/nochroot.log');
  assert.equal(r.lines.services, 4);
  assert.deepEqual([...r.lines.include], [['vim', 6]]);
  assert.deepEqual([...r.lines.groups], [['Standard System', 7]]);
  const written = kickstartFromPlan(p);
  const again = parseKickstart(written).plan;
  // The %post sections sit on other lines of the written file; everything else is the same.
  const lineless = (plan: typeof p) => ({ ...plan, post: plan.post.map((s) => ({ ...s, line: 0 })) });
  assert.deepEqual(lineless(again!), lineless(p));
  assert.equal(kickstartFromPlan(parseKickstart(written).plan!), written, 'a fixed point');
});

test('timesource and --nontp: NTP off, or servers', () => {
  assert.deepEqual(parseKickstart('timezone --nontp UTC\n').plan?.ntp, { disabled: true });
  assert.deepEqual(parseKickstart('timesource --ntp-disable\ntimezone Etc/UTC\n').plan?.ntp, { disabled: true });
  assert.deepEqual(parseKickstart('timesource --ntp-server=a.example\ntimesource --ntp-pool=pool.example\n').plan?.ntp, { servers: ['a.example', 'pool.example'] });
});

const WARNED: Array<[string, RegExp]> = [
  ['text', /'text' is ignored: it chooses the installer's interface; an image build has no installer/],
  ['cmdline', /'cmdline' is ignored/], ['graphical', /'graphical' is ignored/], ['install', /'install' is ignored/],
  ['url --url="http://example.org/os/"', /'url' is ignored: it names the installer's source of packages; IMG installs from the repo lines/],
  ['cdrom', /'cdrom' is ignored/], ['nfs --server=x --dir=/y', /'nfs' is ignored/], ['harddrive --partition=sda1 --dir=/', /'harddrive' is ignored/],
  ['liveimg --url=http://example.org/x.img', /'liveimg' is ignored/], ['reboot --eject', /'reboot' is ignored: it says what the installer does at its end/],
  ['shutdown', /'shutdown' is ignored/], ['poweroff', /'poweroff' is ignored/], ['halt', /'halt' is ignored/], ['skipx', /'skipx' is ignored/],
  ['firstboot --disable', /'firstboot' is ignored/], ['eula --agreed', /'eula' is ignored/], ['logging --level=info', /'logging' is ignored/],
  ['zerombr', /'zerombr' is ignored: it prepares the installer's target disks/], ['clearpart --all --initlabel', /'clearpart' is ignored/],
  ['ignoredisk --only-use=vda', /'ignoredisk' is ignored/], ['autopart --type=lvm', /'autopart' is ignored/], ['reqpart --add-boot', /'reqpart' is ignored/],
  ['auth --useshadow --enablemd5', /'auth' is ignored: it runs Red Hat's authconfig/], ['authconfig --enableshadow', /'authconfig' is ignored/],
  ['authselect select sssd with-silent-lastlog --force', /'authselect' is ignored/], ['selinux --enforcing', /'selinux' is ignored: Debian images do not run SELinux/],
  ['firewall --enabled --ssh', /'firewall' is ignored: it configures firewalld/], ['xconfig --startxonboot', /'xconfig' is ignored/],
  ['desktop --autologinuser=meego --defaultdesktop=DUI --session="/usr/bin/mcompositor"', /'desktop' is ignored: it is mic's desktop setting \(MeeGo\)/],
  ['part / --size 1700 --ondisk sda --fstype=ext3', /part --ondisk is ignored: it places the partition on one of the installer's disks/],
  ['part / --size=4096 --grow --asprimary', /part --grow is ignored/],
  ['part / --size=4096 --onpart=sda4', /part --onpart is ignored/],
  ['bootloader --location=mbr --boot-drive=vda', /bootloader --boot-drive is ignored/],
  ['bootloader --driveorder=sda', /bootloader --driveorder is ignored/],
  ['bootloader --append=""', /--append is empty, so it adds nothing/],
  ['repo --name=d --suite=trixie --components=main --save --debuginfo --source', /repo --save is ignored/],
];

for (const [line, says] of WARNED) {
  test(`accepted with a warning on its line: ${line}`, () => {
    const r = parseKickstart(`lang C\n${line}\n`);
    assert.deepEqual(formatKsErrors('k.ks', r.errors), []);
    assert.ok(r.warnings.some((w) => w.line === 2 && says.test(w.message)), JSON.stringify(r.warnings));
  });
}

test('comments where pykickstart allows them: after a package or group name, after a word, inside a word', () => {
  const r = parseKickstart('keyboard us# Root password\nlang en_US.UTF-8 # the language\n%packages\nvim # editor\n@Standard System # a group\n-nano#no\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.equal(r.plan?.keyboard, 'us');
  assert.deepEqual(r.plan?.packages, { include: ['vim'], exclude: ['nano'], groups: ['Standard System'] });
});

test('options may be shortened as argparse allows, and go by their other names', () => {
  const r = parseKickstart('part / --siz=100 --type=ext3 --ondrive=sda\nbootloader --disable\n%post --logfile=/root/x.log\necho x\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.plan?.partitions, [{ mountpoint: '/', sizeMiB: 100, fstype: 'ext3' }]);
  assert.equal(r.plan?.post[0]?.log, '/root/x.log');
  assert.match(r.warnings.map((w) => w.message).join('\n'), /bootloader --disabled is ignored/);
});

test('an unknown group is an error on its line when the group table is known, listing the groups', () => {
  const r = parseKickstart('%packages\n@core\n@standard system\n%end\n', { groups: { 'Standard System': ['less'], 'SSH Server': ['openssh-server'] } });
  assert.deepEqual(formatKsErrors('k.ks', r.errors), [
    "k.ks:2: unknown group 'core'; IMG's groups are @Standard System, @SSH Server",
    "k.ks:3: unknown group 'standard system' (did you mean '@Standard System'?); IMG's groups are @Standard System, @SSH Server",
  ]);
});

test('several %packages sections add up, the last header deciding the options, as in pykickstart', () => {
  const r = parseKickstart('%packages --excludedocs\nvim\n%end\n%packages\nnano\n%end\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.plan?.packages, { include: ['vim', 'nano'], exclude: [], groups: [] });
});
