// The warm start, through the real image-creator, its Docker sandbox and QEMU: image-creator prepares
// the base of the default suite at start (the minimal bootable system), a request whose packages are
// that base plus three others starts from it (apt installs the rest), and the same request built from
// scratch gives the same image: the same packages at the same versions (`dpkg-query -W`), the same
// files apart from those listed in SAME_APART_FROM, and both raw disks boot (the service's own check).
// tar and raw are built side by side, two builds at a time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Broker } from '@img/shared/broker';
import type { LinkMessage } from '@img/shared/contracts';
import amqp from 'amqplib';
import { queues } from '@img/shared/broker';
import { closeJobRecords, publishBuild } from '../support/jobs.ts';
import { decompressedImage, connectTestBroker, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, testEnv, waitFor, type ServiceProcess } from '@img/shared/testing';

/**
 * Paths that differ between a build from scratch and one from a base, and why (README, "Warm start").
 * Everything else (every file's path) is the same.
 */
const SAME_APART_FROM: Array<[RegExp, string]> = [
  [/^\.\/var\/cache\/debconf\/[a-z]+\.dat-old$/, 'debconf keeps the previous copy of its database after a second apt run'],
  [/^\.\/var\/lib\/dpkg\/(status|diversions|statoverride)-old$/, 'dpkg keeps the previous copy of its state after a second apt run'],
  [/^\.\/var\/lib\/apt\/extended_states$/, 'apt records which packages it installed automatically: a second run writes it where the first may not have'],
  [/^\.\/var\/log\//, 'logs'],
  [/^\.\/etc\/resolv\.conf$/, 'mmdebstrap leaves the resolver out; the builder copies it only for apt in a base'],
];

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess;
let broker: Broker;
let cacheDir: string;
let scratch: string;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  // Two builds at a time: the tar and the raw of one kind of start run together.
  env = await stackEnv({ IMG_PREPARED_BASES: '', IMG_BUILD_CONCURRENCY: '2', IMG_BUILD_TIMEOUT_S: '900', IMG_VERIFY_BOOT: 'true',
    // Two emulated boots at once on a shared two-core machine: the boot check's default 300 s is too tight.
    IMG_VERIFY_TIMEOUT_S: '900' });
  cacheDir = join(env.IMG_DATA_DIR, 'cache');
  scratch = await tempDir('img-warm-');
  broker = await connectTestBroker('warm-test');
  creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
});
after(async () => {
  await creator?.stop();
  await broker?.close();
  await closeJobRecords();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const rootsDir = () => join(cacheDir, 'rootfs');
const records = () => (existsSync(rootsDir()) ? readdirSync(rootsDir()).filter((f) => f.endsWith('.json')) : [])
  .map((f) => ({ key: f.slice(0, -5), ...(JSON.parse(readFileSync(join(rootsDir(), f), 'utf8')) as { include: string[]; prepared?: boolean }) }));
const logOf = (id: string) => readFileSync(join(env.IMG_DATA_DIR, 'logs', `${id}.log`), 'utf8');
// A disk is stored as a .zst (a tar is a .tar.zst, read as it is): the tools below read the disk itself.
const imageOf = (l: LinkMessage) => decompressedImage(join(env.IMG_DATA_DIR, 'images', l.id, l.filename));

/**
 * The base plus three packages; `post` only makes the requests differ, so neither answers the other.
 * The base's packages are named (a raw disk would get them anyway) so that the tar starts from it too.
 */
function kickstart(post: string): string {
  return ['part / --size=1536 --fstype=ext4', 'bootloader --timeout=1', '%packages', 'linux-image-amd64', 'systemd-sysv', 'zstd', 'less', 'bzip2', 'file', '%end', '%post', post, '%end', ''].join('\n');
}

/** Outcomes seen so far, by job: two builds wait at once on the same queues. */
const seen = new Map<string, { kind: 'link' | 'error'; msg: LinkMessage }>();

async function built(id: string): Promise<LinkMessage> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const got = await waitFor(`the outcome of ${id}`, async () => {
      for (const [q, kind] of [[queues.link, 'link'], [queues.error, 'error']] as const) {
        for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
          const body = JSON.parse(m.content.toString()) as LinkMessage;
          if (!seen.has(body.id)) seen.set(body.id, { kind, msg: body });
        }
      }
      return seen.get(id);
    // A build, then an emulated boot of up to IMG_VERIFY_TIMEOUT_S: more than either alone.
    }, { timeoutMs: 1_800_000, intervalMs: 500 });
    assert.equal(got.kind, 'link', `job ${id} failed: ${JSON.stringify(got.msg)}\n${logOf(id).slice(-3000)}`);
    return got.msg;
  } finally {
    await conn.close();
  }
}

/** The tar and the raw of one request, built at the same time. */
async function both(post: string, email: string): Promise<[LinkMessage, LinkMessage]> {
  const tar = await publishBuild(broker, kickstart(post), 'tar', email);
  const raw = await publishBuild(broker, kickstart(post), 'raw', email);
  return Promise.all([built(tar), built(raw)]);
}

/** The image's root as a directory of this test's (a tar unpacked; a raw disk's root partition dumped by debugfs). */
function unpack(l: LinkMessage, name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  if (l.imagetype === 'tar') {
    execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -x --numeric-owner -C "$2"', '_', imageOf(l), dir]);
    return dir;
  }
  const table = JSON.parse(execFileSync('sfdisk', ['--json', imageOf(l)], { encoding: 'utf8' })) as { partitiontable: { partitions: Array<{ start: number; size: number; type: string }> } };
  const root = table.partitiontable.partitions.find((p) => p.type === '83');
  assert.ok(root, 'the disk has a Linux root partition');
  const part = join(scratch, `${name}.ext4`);
  execFileSync('dd', [`if=${imageOf(l)}`, `of=${part}`, 'bs=512', `skip=${root.start}`, `count=${root.size}`, 'status=none']);
  execFileSync('debugfs', ['-R', `rdump / ${dir}`, part], { stdio: 'ignore' });
  rmSync(part);
  return dir;
}

const packagesIn = (dir: string) => execFileSync('dpkg-query', [`--admindir=${join(dir, 'var/lib/dpkg')}`, '-W'], { encoding: 'utf8' });
const filesIn = (dir: string) => execFileSync('bash', ['-c', 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort', '_', dir], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  .split('\n').filter((p) => p && !SAME_APART_FROM.some(([re]) => re.test(p)) && !p.startsWith('./lost+found'));

/** The first bytes of an initramfs's main archive: after the uncompressed early cpio mkinitramfs may put first. */
function mainArchiveMagic(initrd: Buffer): string {
  let at = 0;
  const trailer = initrd.indexOf('TRAILER!!!');
  if (initrd.subarray(0, 6).toString() === '070701' && trailer > 0) {
    at = trailer + 'TRAILER!!!'.length;
    while (at < initrd.length && initrd[at] === 0) at++;
  }
  return initrd.subarray(at, at + 4).toString('hex');
}

function sameImage(warm: LinkMessage, cold: LinkMessage): void {
  const a = unpack(warm, `${warm.imagetype}-base`);
  const b = unpack(cold, `${cold.imagetype}-scratch`);
  assert.equal(packagesIn(a), packagesIn(b), `${warm.imagetype}: the same packages at the same versions`);
  assert.match(packagesIn(a), /^file\t/m);
  const fa = filesIn(a);
  const fb = new Set(filesIn(b));
  const onlyWarm = fa.filter((p) => !fb.has(p));
  const inWarm = new Set(fa);
  const onlyCold = [...fb].filter((p) => !inWarm.has(p));
  assert.deepEqual({ onlyWarm, onlyCold }, { onlyWarm: [], onlyCold: [] }, `${warm.imagetype}: the same files`);
  // What the image says it was built from, and the time every file is stamped with: the same
  // package lists' date either way, never unknown.
  const info = (dir: string) => readFileSync(join(dir, 'etc/img/build-info'), 'utf8');
  assert.match(info(a), /^PACKAGE_LISTS_DATE=\d{4}-\d\d-\d\dT/m, `${warm.imagetype}: the warm build knows its lists' date`);
  assert.match(info(a), /^SOURCE_DATE_EPOCH=\d+$/m);
  assert.equal(info(a), info(b), `${warm.imagetype}: the same /etc/img/build-info`);
  // The initramfs is compressed with zstd (its magic number) either way.
  for (const dir of [a, b]) {
    const initrd = readdirSync(join(dir, 'boot')).find((f) => f.startsWith('initrd.img-'));
    assert.ok(initrd, `${warm.imagetype}: the image has an initramfs`);
    assert.equal(mainArchiveMagic(readFileSync(join(dir, 'boot', initrd))), '28b52ffd', `${warm.imagetype}: the initramfs is compressed with zstd`);
  }
  rmSync(a, { recursive: true, force: true });
  rmSync(b, { recursive: true, force: true });
}

test('a request of the prepared base plus three packages starts from the base and gives the image a build from scratch gives', async () => {
  // The base image-creator prepares at start: the packages a minimal bootable disk gets.
  const base = await waitFor('the prepared base', async () => records().find((r) => r.prepared), { timeoutMs: 900_000, intervalMs: 1000 });
  assert.deepEqual([...base.include].sort(), ['linux-image-amd64', 'systemd-sysv', 'zstd']);

  const [warmTar, warmRaw] = await both('true', 'warm@example.com');
  for (const l of [warmTar, warmRaw]) {
    assert.equal(l.start, 'base', `${l.imagetype} started from the base`);
    const log = logOf(l.id);
    assert.match(log, new RegExp(`starting from the prepared root file system ${base.key.slice(0, 12)}, which holds 3 of this build's 6 packages`));
    assert.doesNotMatch(log, /update-initramfs: Generating/, 'the base\'s initramfs is kept: nothing the three packages add goes into it');
    // A few packages on top of the base (fewer than IMG_ROOTFS_MIN_ADDED): the root is not kept, the base serves again.
    assert.match(log, /IMG: cache: this root file system is not offered: it adds [1-9] packages to the prepared one it started from \(fewer than 10\)/);
  }
  assert.deepEqual(records().map((r) => r.key), [base.key], 'the cache holds the base and no root of a build that added a few packages to it');
  assert.equal(warmRaw.verified?.ok, true, `the raw disk from the base boots: ${warmRaw.verified?.detail}`);

  // Nothing to start from: the same request (another %post) installs everything.
  for (const f of readdirSync(rootsDir())) rmSync(join(rootsDir(), f));
  const [coldTar, coldRaw] = await both(':', 'cold@example.com');
  for (const l of [coldTar, coldRaw]) assert.equal(l.start, 'scratch');
  assert.equal(coldRaw.verified?.ok, true, `the raw disk from scratch boots: ${coldRaw.verified?.detail}`);
  const coldLog = logOf(coldRaw.id);
  assert.equal(coldLog.match(/update-initramfs: Generating/g)?.length, 1, 'the initramfs is made once');

  sameImage(warmTar, coldTar);
  sameImage(warmRaw, coldRaw);
});
