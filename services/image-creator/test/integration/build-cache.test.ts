// The shared build caches, through the real image-creator and its Docker sandbox: a build keeps the
// packages it downloaded and its installed root file system; a later build with the same packages
// starts from that root file system, one with other packages takes the packages it can from the
// cache; a damaged cached package is refused by its hash; nothing a %post does reaches the cache;
// and two builds at once share the cache without harm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Broker, queues } from '@img/shared/broker';
import { type ErrorMessage, type LinkMessage } from '@img/shared/contracts';
import { closeJobRecords, publishBuild } from '../support/jobs.ts';
import { connectTestBroker, purgeAllQueues, repoRoot, stackEnv, startService, testEnv, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess;
let broker: Broker;
let cacheDir: string;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  // Every root is kept, however few packages a build adds to the root it started from: the tests here
  // follow roots into the cache (warm-start.test.ts checks that a few added packages keep none).
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '2', IMG_BUILD_TIMEOUT_S: '600', IMG_ROOTFS_MIN_ADDED: '0' });
  cacheDir = join(env.IMG_DATA_DIR, 'cache');
  broker = await connectTestBroker('cache-test');
  creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
});
after(async () => {
  await creator?.stop();
  await broker?.close();
  await closeJobRecords();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

/** Outcomes seen so far, by job: the link and error queues are shared by the builds of this file. */
const seen = new Map<string, Array<{ kind: 'link' | 'error'; msg: LinkMessage & ErrorMessage }>>();

async function outcome(id: string): Promise<LinkMessage> {
  const got = await outcomeOf(id);
  assert.equal(got.kind, 'link', `job ${id} failed: ${got.msg.code}: ${got.msg.error}\n${(got.msg.excerpt ?? []).join('\n')}`);
  return got.msg;
}

async function outcomeOf(id: string): Promise<{ kind: 'link' | 'error'; msg: LinkMessage & ErrorMessage }> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const got = await waitFor(`the outcome of ${id}`, async () => {
      for (const [q, kind] of [[queues.link, 'link'], [queues.error, 'error']] as const) {
        for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
          const body = JSON.parse(m.content.toString()) as LinkMessage & ErrorMessage;
          seen.set(body.id, [...(seen.get(body.id) ?? []), { kind, msg: body }]);
        }
      }
      return seen.get(id)?.[0];
    }, { timeoutMs: 600_000, intervalMs: 500 });
    return got;
  } finally {
    await conn.close();
  }
}

async function build(packages: string[], post: string, opts: { nochroot?: boolean; suite?: string } = {}): Promise<string> {
  const ksfile = `%packages\n${packages.join('\n')}\n%end\n%post${opts.nochroot ? ' --nochroot' : ''}\n${post}\n%end\n`;
  return publishBuild(broker, ksfile, 'tar', 'cache@example.com', opts.suite);
}

const logOf = (id: string) => readFileSync(join(env.IMG_DATA_DIR, 'logs', `${id}.log`), 'utf8');
/** A file of the built root file system archive, or undefined when it is not there. */
function fileInImage(link: LinkMessage, path: string): string | undefined {
  try {
    return execFileSync('bash', ['-c', `zstd -dc "$1" | tar -xOf - "$2"`, '_', join(env.IMG_DATA_DIR, 'images', link.id, link.filename), `./${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}
const rootfsFiles = () => readdirSync(join(cacheDir, 'rootfs')).filter((f) => f.endsWith('.tar'));
const debs = () => readdirSync(join(cacheDir, 'debs'));

test('a build keeps its packages and installed root file system; the next with the same packages starts from it, without the first one\'s %post', async () => {
  const first = await outcome(await build(['hostname'], 'echo first > /etc/img-tag'));
  assert.match(logOf(first.id), /IMG: cache: kept \d+ new packages \(\d+ MiB\) and the installed root file system/);
  assert.ok(debs().some((f) => f.startsWith('hostname_')), `the hostname package is cached: ${debs().join(' ')}`);
  assert.ok(debs().length > 50, `the essential packages are cached too: ${debs().length}`);
  assert.equal(rootfsFiles().length, 1);
  const cached = join(cacheDir, 'rootfs', rootfsFiles()[0]!);
  const listing = execFileSync('tar', ['-tf', cached], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.match(listing, /^\.\/usr\/bin\/hostname$/m);
  assert.doesNotMatch(listing, /img-tag/, 'the cached root file system was taken before the %post');

  const second = await outcome(await build(['hostname'], 'echo second > /etc/img-tag'));
  const log = logOf(second.id);
  assert.match(log, /installed root file system [0-9a-f]{12} of an earlier build with the same packages and repositories is used/);
  assert.doesNotMatch(log, /I: running apt-get update/, 'nothing was installed again');
  assert.equal(fileInImage(second, 'etc/img-tag'), 'second\n');
  assert.ok(fileInImage(second, 'usr/bin/hostname') !== undefined, 'the packages are in the image');
  // How much faster a cached build is belongs to deploy/bench/image-build.ts, not here.
});

test('a build with other packages takes the ones it can from the package cache', async () => {
  // Without a root to start from (the first build's would be a base for this one: warm-start.test.ts).
  for (const f of readdirSync(join(cacheDir, 'rootfs'))) rmSync(join(cacheDir, 'rootfs', f));
  const link = await outcome(await build(['hostname', 'less'], 'true'));
  const log = logOf(link.id);
  const m = /IMG: package cache: (\d+) of (\d+) packages taken from the cache/.exec(log);
  assert.ok(m, log.slice(0, 4000));
  assert.ok(Number(m[1]) > 50 && Number(m[1]) < Number(m[2]), `most but not all from the cache: ${m[0]}`);
  assert.ok(debs().some((f) => f.startsWith('less_')), 'its new package is kept');
  assert.ok(fileInImage(link, 'usr/bin/less') !== undefined);
});

test('a damaged cached package is refused by its hash and downloaded again; the build succeeds', async () => {
  const name = debs().find((f) => f.startsWith('hostname_'))!;
  const file = join(cacheDir, 'debs', name);
  const size = statSync(file).size;
  writeFileSync(file, Buffer.alloc(size, 0x41));
  truncateSync(file, size);
  // Without the installed root file systems (this package set's, and the larger one's), the build must install the packages.
  for (const f of readdirSync(join(cacheDir, 'rootfs'))) rmSync(join(cacheDir, 'rootfs', f));
  const link = await outcome(await build(['hostname'], 'true'));
  assert.match(logOf(link.id), /IMG: package cache: 1 cached files did not match the signed index and were not used/);
  assert.equal(execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -xOf - ./usr/bin/hostname | head -c 4 | od -An -c', '_', join(env.IMG_DATA_DIR, 'images', link.id, link.filename)], { encoding: 'utf8' }).replace(/\s+/g, ''), '177ELF');
  assert.notEqual(readFileSync(file).subarray(0, 4).toString(), 'AAAA', 'the genuine package replaced the damaged one in the cache');
});

test('a %post cannot put anything into the cache, and two builds at once share it', async () => {
  // The package set is new, so both builds install it, and each offers its root file system.
  const before = new Set(rootfsFiles());
  const poison = [
    'mkdir -p /out/.cache-export/debs',
    'echo planted > /out/.cache-export/rootfs.tar',
    'echo planted > /out/.cache-export/debs/hostname_9.9_amd64.deb',
    'echo @@IMG-CACHE-EXPORT',
    'sleep 3',
  ].join('\n');
  const [hostile, other] = await Promise.all([
    build(['hostname', 'less', 'bzip2'], poison, { nochroot: true }).then(outcomeOf),
    build(['hostname', 'less', 'bzip2'], 'echo other > /etc/img-tag').then(outcome),
  ]);
  // The host reads the offer while the %post runs, and the race decides what the build sees: the
  // offer was read and removed before the %post planted its files, which are then refused with the
  // rest of the output (and the build with it); or the host read planted bytes, which are not what the
  // script sealed (the seal's rules: cache-rules.test.ts), and nothing of the offer is kept; or the
  // host's removal of the offer took the planted files with it. In every case nothing planted is kept.
  if (hostile.kind === 'error') {
    assert.equal(hostile.msg.code, 'build_output_invalid');
    assert.match(hostile.msg.error, /at \/out\/\.cache-export, which is not part of its output/);
  }
  assert.ok(other);
  assert.ok(!debs().includes('hostname_9.9_amd64.deb'), 'the planted package is not in the cache');
  const added = rootfsFiles().filter((f) => !before.has(f));
  assert.equal(added.length, 1, `one root file system for the new package set: ${rootfsFiles().join(' ')}`);
  const cached = join(cacheDir, 'rootfs', added[0]!);
  execFileSync('tar', ['-tf', cached], { stdio: 'ignore', maxBuffer: 64 * 1024 * 1024 });
  assert.ok(statSync(cached).size > 1_000_000, 'it is the real one, not the planted file');
  // A third build starts from it and is whole.
  const third = await outcome(await build(['hostname', 'less', 'bzip2'], 'echo third > /etc/img-tag'));
  assert.match(logOf(third.id), /installed root file system [0-9a-f]{12} of an earlier build/);
  assert.equal(fileInImage(third, 'etc/img-tag'), 'third\n');
  assert.ok(fileInImage(third, 'usr/bin/bzip2') !== undefined);
});

// Last: its bookworm packages join the cache beside trixie's, which the tests above pick by name.
test('the same packages for bookworm are installed afresh: a trixie root file system is never given to a bookworm build', async () => {
  const trixieRootfs = rootfsFiles();
  const other = await outcome(await build(['hostname'], 'echo bookworm > /etc/img-tag', { suite: 'bookworm' }));
  const log = logOf(other.id);
  assert.doesNotMatch(log, /installed root file system [0-9a-f]{12} of an earlier build .* is used/);
  assert.match(log, /IMG: packages from bookworm, bookworm-updates, bookworm-security/);
  assert.match(fileInImage(other, 'usr/lib/os-release') ?? '', /^VERSION_CODENAME=bookworm$/m);
  assert.match(fileInImage(other, 'etc/img/build-info') ?? '', /^SUITE=bookworm$/m);
  assert.equal(rootfsFiles().length, trixieRootfs.length + 1, 'each suite has a root file system of its own');
});
