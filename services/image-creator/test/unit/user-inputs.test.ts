// The sandbox's inputs for `user` and `sshkey`: data only, one value per file, passwords in 0600 files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKickstart } from '@img/shared/kickstart';
import { writeUserInputs } from '../../src/user-inputs.ts';

const KS = `user --name=alice --groups=wheel,devs --password="pa ss:word" --homedir=/srv/alice --shell=/bin/bash --uid=1500 --gecos="Alice L"
user --name=bob --password=$6$salt$hash --iscrypted
user --name=carol
sshkey --username=alice "ssh-ed25519 AAAA1 alice@a"
sshkey --username=alice "ssh-ed25519 AAAA2 alice@b"
sshkey --username=root "ssh-ed25519 AAAAR root@r"
%packages
%end
`;

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[p.slice(dir.length + 1)] = await readFile(p, 'utf8');
  }
  return out;
}

test('each user is a directory of values, keys are one file per user, root\'s included', async () => {
  const plan = parseKickstart(KS).plan;
  assert.ok(plan);
  const dir = await mkdtemp(join(tmpdir(), 'img-user-inputs-'));
  try {
    await writeUserInputs(dir, plan);
    assert.deepEqual(await tree(dir), {
      'users/01/name': 'alice\n',
      'users/01/groups': 'wheel\ndevs\n',
      'users/01/password': 'alice:pa ss:word\n',
      'users/01/homedir': '/srv/alice\n',
      'users/01/shell': '/bin/bash\n',
      'users/01/uid': '1500\n',
      'users/01/gecos': 'Alice L\n',
      'users/02/name': 'bob\n',
      'users/02/password': 'bob:$6$salt$hash\n',
      'users/02/password.crypted': '',
      'users/03/name': 'carol\n',
      'authorized_keys/alice': 'ssh-ed25519 AAAA1 alice@a\nssh-ed25519 AAAA2 alice@b\n',
      'authorized_keys/root': 'ssh-ed25519 AAAAR root@r\n',
    });
    for (const f of ['users/01/password', 'users/02/password']) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a kickstart without users writes nothing', async () => {
  const plan = parseKickstart('%packages\n%end\n').plan;
  assert.ok(plan);
  const dir = await mkdtemp(join(tmpdir(), 'img-user-inputs-'));
  try {
    await writeUserInputs(dir, plan);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
