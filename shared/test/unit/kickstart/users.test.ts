// `user` and `sshkey` lines: what the parser keeps for the builder, what it refuses, and that the
// writer prints all of it (the request hash is the written plan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKsErrors, kickstartFromPlan, parseKickstart } from '@img/shared/kickstart';

const KS = `user --name=alice --groups=wheel,docker --password=s3cret:x --plaintext --homedir=/srv/alice --shell=/bin/bash --uid=1500 --gecos="Alice Liddell"
user --name=bob --password=$6$salt$hash --iscrypted
sshkey --username=alice "ssh-ed25519 AAAAC3Nza alice@laptop"
sshkey --username=root "ssh-ed25519 AAAAroot root@admin"
sshkey --username=alice "ssh-rsa AAAAB3Nz second"
%packages
%end
`;

test('user lines keep every option, and sshkey lines go to their user, root\'s to the plan', () => {
  const r = parseKickstart(KS);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.plan?.users, [
    {
      name: 'alice', iscrypted: false, password: 's3cret:x', groups: ['wheel', 'docker'], homedir: '/srv/alice', shell: '/bin/bash',
      uid: 1500, gecos: 'Alice Liddell', sshkeys: ['ssh-ed25519 AAAAC3Nza alice@laptop', 'ssh-rsa AAAAB3Nz second'],
    },
    { name: 'bob', iscrypted: true, password: '$6$salt$hash', groups: [], sshkeys: [] },
  ]);
  assert.deepEqual(r.plan?.rootSshkeys, ['ssh-ed25519 AAAAroot root@admin']);
});

test('the writer prints every user option and root\'s keys, and reads back to the same plan', () => {
  const plan = parseKickstart(KS).plan;
  assert.ok(plan);
  const text = kickstartFromPlan(plan);
  assert.match(text, /^user --name=alice --password=s3cret:x --plaintext --groups=wheel,docker --homedir=\/srv\/alice --shell=\/bin\/bash --uid=1500 --gecos="Alice Liddell"$/m);
  assert.match(text, /^sshkey --username=root "ssh-ed25519 AAAAroot root@admin"$/m);
  const again = parseKickstart(text);
  assert.deepEqual(again.errors, []);
  assert.deepEqual(again.plan, plan);
  assert.equal(kickstartFromPlan(again.plan!), text);
});

test('what a user line cannot be is an error naming the line', () => {
  const at = (line: string) => formatKsErrors('k.ks', parseKickstart(line).errors);
  assert.deepEqual(at('user --name=root --password=x'), ['k.ks:1: root is not made with a user line: use rootpw, and sshkey --username=root for its keys']);
  assert.deepEqual(at('user --name=a --homedir=home/a'), ['k.ks:1: --homedir=home/a is not an absolute path (letters, digits, _ . + - and /)']);
  assert.deepEqual(at('user --name=a --homedir=/'), ['k.ks:1: --homedir=/ is not an absolute path (letters, digits, _ . + - and /)']);
  assert.deepEqual(at('user --name=a --shell=bash'), ['k.ks:1: --shell=bash is not an absolute path']);
  assert.deepEqual(at('user --name=a --uid=0'), ['k.ks:1: --uid=0 is not a user id between 1 and 4294967294']);
  assert.deepEqual(at('user --name=a --uid=12ab'), ['k.ks:1: --uid=12ab is not a user id between 1 and 4294967294']);
  assert.deepEqual(at('user --name=a --gecos="x:y"'), ['k.ks:1: --gecos must be at most 256 characters, without : or control characters']);
  assert.deepEqual(at('user --name=a --groups=wheel,Bad'), ["k.ks:1: 'Bad' is not a valid group name"]);
  assert.deepEqual(at('sshkey --username=Bad "k"'), ["k.ks:1: 'Bad' is not a valid user name"]);
  assert.deepEqual(at('sshkey --username=nobody "ssh-ed25519 AAAA"'), ["k.ks:1: sshkey for 'nobody', who has no user line (only root needs none)"]);
  assert.deepEqual(at('user --name=a\nuser --name=a'), ["k.ks:2: user 'a' is defined twice (first on line 1)"]);
});
