// `user` and `sshkey` lines, built through the real sandbox into a tar image and checked in the
// archive: the account with its home and shell, its groups (missing ones created), a hashed password
// that verifies, and authorized_keys owned by the user with mode 0600, root's included.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Broker, queues } from '@img/shared/broker';
import { type ErrorMessage, type LinkMessage } from '@img/shared/contracts';
import { closeJobRecords, publishBuild } from '../support/jobs.ts';
import { connectTestBroker, purgeAllQueues, repoRoot, stackEnv, startService, testEnv, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess | undefined;
let broker: Broker;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600', IMG_VERIFY_BOOT: 'false' });
  broker = await connectTestBroker('users-test');
});
after(async () => {
  await creator?.stop();
  await broker?.close();
  await closeJobRecords();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});
beforeEach(async () => {
  await purgeAllQueues();
  if (!creator || creator.proc.exitCode !== null || creator.proc.signalCode !== null) creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
});

const PASSWORD = 'Img-plain-pass-7431';
const ALICE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImgTestKeyOfAlice alice@example';
const ROOT_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImgTestKeyOfRoot root@example';
const KICKSTART = `user --name=alice --groups=wheel,audio --password=${PASSWORD} --plaintext --shell=/bin/bash --gecos="Alice Liddell"
sshkey --username=alice "${ALICE_KEY}"
sshkey --username=root "${ROOT_KEY}"
%packages
hostname
%end
%post
# The accounts are made before any %post runs.
id alice
%end
`;

async function outcome(id: string, timeoutMs: number): Promise<{ link?: LinkMessage; error?: ErrorMessage }> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    return await waitFor(`the outcome of ${id}`, async () => {
      for (const q of [queues.link, queues.error]) {
        for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
          const body = JSON.parse(m.content.toString()) as LinkMessage & ErrorMessage;
          if (body.id === id) return q === queues.link ? { link: body } : { error: body };
        }
      }
      return undefined;
    }, { timeoutMs, intervalMs: 1000 });
  } finally {
    await conn.close();
  }
}

/** One member of the image's archive, as text. */
function member(archive: string, path: string): string {
  return execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -xOf - "$2"', 'member', archive, `.${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** `tar -tv` of one member: mode, numeric owner and group. */
function listing(archive: string, path: string): { mode: string; uid: number; gid: number } {
  const line = execFileSync('bash', ['-c', 'zstd -dc "$1" | tar --numeric-owner -tvf - "$2"', 'listing', archive, `.${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
  const m = /^(\S+)\s+(\d+)\/(\d+)\s/.exec(line);
  assert.ok(m, `a listing of ${path}: ${line}`);
  return { mode: m[1]!, uid: Number(m[2]), gid: Number(m[3]) };
}

/** crypt(3) on this host, through the same libcrypt the image uses (yescrypt, SHA-512, …). */
function verifies(password: string, hash: string): boolean {
  const out = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt, sys; print(crypt.crypt(sys.stdin.readline().rstrip("\\n"), sys.argv[1]) == sys.argv[1])', hash],
    { input: `${password}\n`, encoding: 'utf8' });
  return out.trim() === 'True';
}

test('a user line with groups, a plain-text password and SSH keys is in the built image', async () => {
  const id = await publishBuild(broker, KICKSTART, 'tar', 'users@example.com');
  const { link, error } = await outcome(id, 900_000);
  assert.ok(link, `the build succeeded: ${JSON.stringify(error)}`);
  const archive = join(env.IMG_DATA_DIR, 'images', id, link.filename ?? '');

  const passwd = member(archive, '/etc/passwd').split('\n').map((l) => l.split(':'));
  const alice = passwd.find((f) => f[0] === 'alice');
  assert.ok(alice, 'alice is in /etc/passwd');
  const [, , uidText, gidText, gecos, home, shell] = alice;
  const uid = Number(uidText);
  const gid = Number(gidText);
  assert.ok(uid >= 1000, `a regular user id: ${uid}`);
  assert.equal(gecos, 'Alice Liddell');
  assert.equal(home, '/home/alice');
  assert.equal(shell, '/bin/bash');

  const groups = new Map(member(archive, '/etc/group').split('\n').filter(Boolean).map((l) => {
    const [name, , g, members] = l.split(':');
    return [name!, { gid: Number(g), members: (members ?? '').split(',').filter(Boolean) }];
  }));
  assert.equal(groups.get('alice')?.gid, gid, 'alice has a group of her own as her primary group');
  assert.ok(groups.get('wheel')?.members.includes('alice'), 'wheel (not in Debian, so created) lists alice');
  assert.ok(groups.get('audio')?.members.includes('alice'), 'audio (a Debian group) lists alice');

  const shadow = member(archive, '/etc/shadow');
  assert.ok(!shadow.includes(PASSWORD), 'the password is not stored as written');
  const hash = shadow.split('\n').map((l) => l.split(':')).find((f) => f[0] === 'alice')?.[1] ?? '';
  assert.match(hash, /^\$(y|gy|7|6|5)\$/, `a crypt(3) hash: ${hash}`);
  assert.ok(verifies(PASSWORD, hash), 'the hash verifies against the password');
  assert.ok(!verifies('not-the-password', hash), 'and not against another');

  assert.equal(member(archive, '/home/alice/.ssh/authorized_keys'), `${ALICE_KEY}\n`);
  assert.deepEqual(listing(archive, '/home/alice/.ssh/authorized_keys'), { mode: '-rw-------', uid, gid });
  assert.deepEqual(listing(archive, '/home/alice/.ssh'), { mode: 'drwx------', uid, gid });
  assert.ok(member(archive, '/root/.ssh/authorized_keys').includes(`${ROOT_KEY}\n`));
  assert.deepEqual(listing(archive, '/root/.ssh/authorized_keys'), { mode: '-rw-------', uid: 0, gid: 0 });

  const log = await readFile(join(env.IMG_DATA_DIR, 'logs', `${id}.log`), 'utf8');
  assert.ok(!log.includes(PASSWORD), 'the password is not in the build log');
  assert.match(log, /uid=\d+\(alice\) gid=\d+\(alice\) groups=.*wheel/, 'the %post saw the user');
});
