// What a build leaves behind is hostile input. Each test plants something where the build's output
// goes (the reproductions of the security issue), then checks the host, not only the job: the file a
// link pointed at is unchanged, nothing set-id and no device node is under the data directory, the
// host's inode use did not grow, and the next build is built.
// It measures the host's own disk and inodes, which another build beside it would move:
// test-runner: alone
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { routes, type Broker } from '@img/shared/broker';
import { imageMessage, type ErrorMessage } from '@img/shared/contracts';
import { newJobId } from '@img/shared/jobs';
import { connectTestBroker, deadLettered, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, type ServiceProcess } from '@img/shared/testing';
import { closeJobRecords, containersOf, outcomes, postKickstart, publishBuild, recordJob } from '../support/jobs.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess | undefined;
let broker: Broker;
let canaryDir: string;

const INODES = 60_000;
const LIMITS = { IMG_BUILD_TIMEOUT_S: '120', IMG_BUILD_MEMORY_MB: '1024', IMG_BUILD_PIDS: '300', IMG_BUILD_DISK_MB: '1536', IMG_BUILD_INODES: String(INODES), IMG_VERIFY_BOOT: 'false' };

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  env = await stackEnv(LIMITS);
  broker = await connectTestBroker('hostile-output-test');
  canaryDir = await tempDir('img-canary-');
});
after(async () => {
  await creator?.stop();
  await broker?.close();
  await closeJobRecords();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (canaryDir) await rm(canaryDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await purgeAllQueues();
  if (!creator || creator.proc.exitCode !== null || creator.proc.signalCode !== null) creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
});

const nochroot = (script: string) => postKickstart(script, { nochroot: true, interpreter: '/bin/bash' });

/** Every entry under a directory, by lstat: nothing is followed. */
function walk(dir: string, out: Array<{ path: string; mode: number; kind: string }> = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    const kind = st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() || st.isBlockDevice() ? 'device' : 'other';
    out.push({ path, mode: st.mode, kind });
    if (kind === 'dir') walk(path, out);
  }
  return out;
}

/** The host checks after a hostile build: nothing set-id, no device, FIFO or link anywhere under the data directory. */
function assertDataDirClean() {
  const bad = walk(env.IMG_DATA_DIR).filter((e) => e.kind === 'fifo' || e.kind === 'device' || e.kind === 'symlink' || e.kind === 'other' || (e.kind === 'file' && (e.mode & 0o6000) !== 0));
  assert.deepEqual(bad, [], 'no set-id file, device node, FIFO or link under the data directory');
}

async function refused(id: string, pattern: RegExp): Promise<ErrorMessage> {
  const seen = await outcomes(id, 200_000);
  assert.deepEqual(seen.map((o) => o.kind), ['error'], JSON.stringify(seen));
  const err = seen[0]!.msg as ErrorMessage;
  assert.equal(err.code, 'build_output_invalid', err.error);
  assert.match(err.error, pattern);
  assert.deepEqual(containersOf(id), [], 'its container is gone');
  assert.equal(readdirSync(join(env.IMG_DATA_DIR, 'images')).includes(id) ? readdirSync(join(env.IMG_DATA_DIR, 'images', id)).length : 0, 0, 'no image of it is kept');
  assertDataDirClean();
  return err;
}

test('a link planted as the result file: the host file it points to is not written, and the job fails saying what was found', async () => {
  const canary = join(canaryDir, 'bashrc');
  writeFileSync(canary, 'echo original\n');
  const before = statSync(canary);
  const id = await publishBuild(broker, nochroot(`ln -s ${canary} /out/result.json`));
  await refused(id, /a symbolic link at \/out\/result\.json/);
  assert.equal(readFileSync(canary, 'utf8'), 'echo original\n');
  assert.equal(statSync(canary).mtimeMs, before.mtimeMs, 'the host file was not touched');
});

test('a set-uid root binary left in the output never reaches the host, and no device node can be made', async () => {
  const id = await publishBuild(broker, nochroot('cp /usr/bin/id /out/x && chmod 4755 /out/x && ls -l /out/x\nif mknod /out/null c 1 3; then echo "MKNOD WORKED"; else echo "mknod refused"; fi'));
  await refused(id, /a file at \/out\/x, which is not part of its output/);
  const log = readFileSync(join(env.IMG_DATA_DIR, 'logs', `${id}.log`), 'utf8');
  assert.match(log, /^mknod refused$/m, 'the sandbox may not make device nodes (no MKNOD, and a user namespace)');
  assert.match(log, /^-rwsr-xr-x .* \/out\/x$/m, 'the set-uid file was made inside the sandbox');
});

test('the image as a link to a host file: neither its size nor its checksum is published', async () => {
  const secret = join(canaryDir, 'secret');
  writeFileSync(secret, 'host secret\n');
  const id = await publishBuild(broker, nochroot(`ln -s ${secret} /out/image.raw`));
  const err = await refused(id, /a symbolic link at \/out\/image\.raw \(pointing to ".*secret"\), not a regular file/);
  assert.doesNotMatch(JSON.stringify(err), /[0-9a-f]{64}/, 'no checksum anywhere in the report');
});

test('a FIFO or a link to /dev/zero as the image fails at once and frees the build slot', async () => {
  const fifo = await publishBuild(broker, nochroot('mkfifo /out/image.raw'));
  const zero = await publishBuild(broker, nochroot('ln -s /dev/zero /out/image.raw'));
  await refused(fifo, /a FIFO \(named pipe\) at \/out\/image\.raw, not a regular file/);
  await refused(zero, /a symbolic link at \/out\/image\.raw \(pointing to "\/dev\/zero"\)/);
  // The one build slot is free again: a plain build after them is built.
  const next = await publishBuild(broker, postKickstart('echo fine > /etc/after-fifo'));
  const [o] = await outcomes(next, 200_000);
  assert.equal(o?.kind, 'link', JSON.stringify(o));
});

test('a directory named like the image is the build\'s error, not a transient one: one build, one report', async () => {
  const id = await publishBuild(broker, nochroot('mkdir /out/image.raw'));
  await refused(id, /a directory at \/out\/image\.raw, not a regular file/);
  // Had it been taken for an infrastructure failure, the message would be delivered again and built again.
  const starts = creator!.output.filter((l) => l.includes('build container started') && l.includes(id)).length;
  assert.equal(starts, 1, 'built once, not retried');
  assert.equal(creator!.output.filter((l) => l.includes('"msg":"build failed"') && l.includes(id)).length, 1);
});

test('a %post making hundreds of thousands of files runs into the work area\'s inode limit; the host\'s inodes are untouched', async () => {
  const inodesUsed = () => Number(execFileSync('df', ['--output=iused', env.IMG_DATA_DIR], { encoding: 'utf8' }).split('\n')[1]);
  const before = inodesUsed();
  const id = await publishBuild(broker, postKickstart('mkdir /many && cd /many && seq 200000 | xargs touch'));
  const seen = await outcomes(id, 200_000);
  assert.equal(seen[0]?.kind, 'error', JSON.stringify(seen));
  const err = seen[0]!.msg as ErrorMessage;
  assert.equal(err.code, 'resource_limit', err.error);
  assert.match(err.error, new RegExp(`filled its work area of 1536 MiB or ${INODES} files`));
  // The test's own files (logs, the failure report) take a few; 200,000 would be seen.
  assert.ok(inodesUsed() - before < 1000, `host inodes used grew by ${inodesUsed() - before}`);
});

test('the build\'s root is an unprivileged uid on the host (user-namespace remapping)', async () => {
  const id = await publishBuild(broker, nochroot('echo "uid inside: $(id -u)"\necho "uid_map: $(cat /proc/self/uid_map | tr -s " ")"'));
  const [o] = await outcomes(id, 200_000);
  assert.equal(o?.kind, 'link', JSON.stringify(o));
  const log = readFileSync(join(env.IMG_DATA_DIR, 'logs', `${id}.log`), 'utf8');
  assert.match(log, /^uid inside: 0$/m);
  // "0 H N": the container's uid 0 is uid H on the host, H not 0.
  const m = /^uid_map:\s+0 (\d+) (\d+)\s*$/m.exec(log);
  assert.ok(m, `the build saw its uid map: ${log.split('\n').filter((l) => l.startsWith('uid_map')).join(' ')}`);
  assert.notEqual(Number(m[1]), 0, 'container root is not the host\'s root');
});

test('an honest build still produces its image, with its checksum computed as it was taken out', async () => {
  const id = await publishBuild(broker, postKickstart('echo made > /etc/img-output-test'));
  const [o] = await outcomes(id, 200_000);
  assert.equal(o?.kind, 'link', JSON.stringify(o));
  if (o?.kind !== 'link') return;
  const file = join(env.IMG_DATA_DIR, 'images', id, o.msg.filename);
  const st = lstatSync(file);
  assert.ok(st.isFile());
  assert.equal(st.mode & 0o7777, 0o644);
  assert.equal(st.size, o.msg.size);
  assert.equal(execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0], o.msg.sha256);
  const listing = execFileSync('tar', ['--zstd', '-tf', file], { encoding: 'utf8' });
  assert.match(listing, /etc\/img-output-test/);
  assertDataDirClean();
});

test('a build message for a job nobody submitted, or naming another address than the job\'s, is dead-lettered and never built', async () => {
  const ks = postKickstart('echo built > /etc/img-forged');
  const ghost = newJobId();
  await broker.publish(routes.build, imageMessage, { id: ghost, email: 'ghost@example.com', imagetype: 'tar', ksfile: ks });
  // A real job, but the message would have its image mailed to someone else.
  const real = await recordJob(ks, 'tar', 'owner@example.com');
  await broker.publish(routes.build, imageMessage, { id: real, email: 'thief@example.com', imagetype: 'tar', ksfile: ks });

  assert.equal((await deadLettered(ghost, { timeoutMs: 60_000 })).email, 'ghost@example.com');
  assert.equal((await deadLettered(real, { timeoutMs: 60_000 })).email, 'thief@example.com');
  for (const id of [ghost, real]) {
    assert.deepEqual(containersOf(id), [], 'no build was started for it');
    assert.equal(existsSync(join(env.IMG_DATA_DIR, 'logs', `${id}.log`)), false, 'no log was written for it');
  }
  // The consumer goes on: the next real submission is built.
  const next = await publishBuild(broker, postKickstart('echo fine > /etc/after-forged'));
  const seen = await outcomes(next, 300_000);
  assert.deepEqual(seen.map((o) => o.kind), ['link'], JSON.stringify(seen));
});
