// Hostile %post scripts: each ends its build with a clear error within its limit, and the service
// goes on building. Also: cancel stops a build's container quickly, and an image-creator killed
// mid-build is replaced by one that cleans up and finishes the job exactly once.
// It measures the host's own disk and inodes, which another build beside it would move:
// test-runner: alone
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { Broker, routes } from '@img/shared/broker';
import { cancelMessage, type ErrorMessage, type LinkMessage } from '@img/shared/contracts';
import { connectTestBroker, purgeAllQueues, repoRoot, stackEnv, startService, testEnv, waitFor, type ServiceProcess } from '@img/shared/testing';
import { containersOf, outcomes, postKickstart, closeJobRecords, publishBuild, readPhases } from '../support/jobs.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess | undefined;
let broker: Broker;

const LIMITS = { IMG_BUILD_TIMEOUT_S: '90', IMG_BUILD_MEMORY_MB: '1024', IMG_BUILD_PIDS: '300', IMG_BUILD_DISK_MB: '1536', IMG_VERIFY_BOOT: 'false' };

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  env = await stackEnv(LIMITS);
  broker = await connectTestBroker('hostile-test');
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

const build = (post: string, opts: { interpreter?: string; nochroot?: boolean } = {}) => publishBuild(broker, postKickstart(post, opts));

async function failsWith(id: string, code: string, within: number): Promise<ErrorMessage> {
  const [o] = await outcomes(id, within);
  assert.equal(o?.kind, 'error', `the build failed: ${JSON.stringify(o)}`);
  const err = o.msg as ErrorMessage;
  assert.equal(err.code, code, err.error);
  assert.deepEqual(containersOf(id), [], 'its container is gone');
  return err;
}

test('a fork bomb ends the build with the process limit, and the host keeps working', async () => {
  const id = await build('bomb() { bomb | bomb & }; bomb\nsleep 30\necho survived');
  const err = await failsWith(id, 'resource_limit', 150_000);
  assert.match(err.error, /limit of 300 processes/);
  execFileSync('docker', ['info'], { stdio: 'ignore' });
});

test('a %post eating memory is stopped at the memory limit', async () => {
  // Grows by 8 MiB at a time, so the watch on process memory, not the hard limit (which also holds
  // the 1536 MiB work area), is what stops it.
  const id = await build('c=$(head -c 8388608 /dev/zero | tr "\\0" a)\nx=\nwhile true; do x+=$c; done', { interpreter: '/bin/bash' });
  const err = await failsWith(id, 'resource_limit', 150_000);
  const m = /processes used (\d+) MiB of memory, more than their limit of 1024 MiB/.exec(err.error);
  assert.ok(m, err.error);
  assert.ok(Number(m[1]) < 1024 + 1536, `stopped at ${m[1]} MiB of process memory, before it could take the work area's share`);
});

test('a %post filling the disk ends the build at its work area\'s size, and the host keeps its space', async () => {
  const free = () => Number(execFileSync('df', ['--output=avail', '-B1M', env.IMG_DATA_DIR], { encoding: 'utf8' }).split('\n')[1]);
  const before = free();
  const id = await build('dd if=/dev/zero of=/fill bs=1M count=100000');
  const err = await failsWith(id, 'resource_limit', 150_000);
  assert.match(err.error, /filled its work area of 1536 MiB or \d+ files \(no space left on device\) in the %post script at kickstart line 4/);
  assert.ok(err.excerpt?.some((l) => /No space left on device/.test(l)), JSON.stringify(err.excerpt));
  assert.equal(err.position?.line, 4);
  // The work area was memory, and is gone with its container: the host's disk did not fill.
  assert.ok(free() > before - 500, `the data disk kept its space: ${before} MiB free before, ${free()} MiB after`);
});

test('a --nochroot %post writing to the output directory fills the same work area, not the host', async () => {
  const id = await build('dd if=/dev/zero of=/out/fill bs=1M count=100000', { nochroot: true });
  const err = await failsWith(id, 'resource_limit', 150_000);
  assert.match(err.error, /filled its work area of 1536 MiB/);
  assert.equal(existsSync(join(env.IMG_DATA_DIR, 'images', id)), false, 'nothing of it is on the host');
});

test('the build cannot write outside its work area: the container is read-only', async () => {
  const id = await build('for d in /opt/img /usr /etc /var /root; do if touch "$d/img-probe" 2>/dev/null; then echo "WROTE $d"; else echo "refused $d"; fi; done', { nochroot: true, interpreter: '/bin/bash' });
  const [o] = await outcomes(id, 150_000);
  assert.equal(o?.kind, 'link', JSON.stringify(o));
  const log = execFileSync('cat', [join(env.IMG_DATA_DIR, 'logs', `${id}.log`)], { encoding: 'utf8' });
  assert.doesNotMatch(log, /^WROTE/m);
  for (const d of ['/opt/img', '/usr', '/etc', '/var', '/root']) assert.match(log, new RegExp(`^refused ${d}$`, 'm'));
});

test('sleep infinity is stopped at the wall-clock limit', async () => {
  const id = await build('sleep infinity');
  const err = await failsWith(id, 'timeout', 150_000);
  assert.match(err.error, /limit of 90 s/);
});

test('a %post cannot reach the broker, the database, the mail server or the frontend on the host', async () => {
  // A service listening on every address of the host: only the firewall rule keeps a build away from it.
  const open = createServer((sock) => sock.end('hello\n'));
  await new Promise<void>((r) => open.listen(0, '0.0.0.0', () => r()));
  const openPort = (open.address() as AddressInfo).port;
  const ports = [5672, 27017, 1025, 8025, Number(env.IMG_HTTP_PORT), 8080, openPort];
  // --nochroot runs in the sandbox itself, where /proc tells the way to the host (the default gateway).
  const script = [
    // The default route's gateway, little-endian hex in /proc/net/route (mawk has no strtonum).
    "h=$(awk '$2 == \"00000000\" { print $3; exit }' /proc/net/route)",
    'gw=$(printf "%d.%d.%d.%d" "0x${h:6:2}" "0x${h:4:2}" "0x${h:2:2}" "0x${h:0:2}")',
    'echo "gateway is $gw"',
    `for p in ${ports.join(' ')}; do`,
    '  for h in "$gw" 127.0.0.1; do',
    '    if timeout 3 bash -c "echo > /dev/tcp/$h/$p" 2>/dev/null; then echo "REACHED $h:$p"; else echo "blocked $h:$p"; fi',
    '  done',
    'done',
  ].join('\n');
  const id = await build(script, { interpreter: '/bin/bash', nochroot: true });
  const [o] = await outcomes(id, 150_000);
  assert.equal(o?.kind, 'link', JSON.stringify(o));
  const log = execFileSync('cat', [join(env.IMG_DATA_DIR, 'logs', `${id}.log`)], { encoding: 'utf8' });
  assert.match(log, /gateway is \d+\.\d+\.\d+\.\d+/);
  assert.doesNotMatch(log, /^REACHED/m);
  for (const p of ports) assert.match(log, new RegExp(`^blocked \\d+\\.\\d+\\.\\d+\\.\\d+:${p}$`, 'm'));
  open.close();
});

test('cancel stops a running build\'s container within 10 s and publishes no outcome', async () => {
  const id = await build('echo waiting\nsleep 300');
  await waitFor('the build to reach %post', async () => containersOf(id).length > 0 && (await readPhases(id)).includes('post'), { timeoutMs: 120_000, intervalMs: 500 });
  await broker.publish(routes.cancel, cancelMessage, { id, reason: 'test' });
  await waitFor('the container to go', async () => containersOf(id).length === 0, { timeoutMs: 10_000, intervalMs: 250 });
  await assert.rejects(outcomes(id, 3000), /timed out/, 'neither link nor error was published');
});

test('image-creator killed with SIGKILL mid-build: the next one removes the orphan, rebuilds, and the job ends exactly once', async () => {
  const id = await build('echo slow step\nsleep 15\necho done > /etc/img-killed-test');
  await waitFor('the build to reach %post', async () => (await readPhases(id)).includes('post'), { timeoutMs: 120_000, intervalMs: 500 });
  assert.equal(containersOf(id).length, 1);
  await creator!.kill();
  assert.equal(containersOf(id).length, 1, 'the orphan is still there after the kill');
  creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
  const seen = await outcomes(id, 180_000, 5000);
  assert.deepEqual(seen.map((o) => o.kind), ['link'], 'exactly one outcome');
  assert.deepEqual(containersOf(id), []);
});

test('a lost broker connection mid-build: the redelivered message waits for the build still running here, one build', async () => {
  const id = await build('echo slow step\nsleep 12\necho finished > /etc/img-reconnect-test');
  await waitFor('the build to reach %post', async () => (await readPhases(id)).includes('post'), { timeoutMs: 120_000, intervalMs: 500 });
  // The broker drops every connection of the test virtual host: the unacked message is delivered
  // again once image-creator has reconnected, while its first delivery is still building.
  execFileSync('rabbitmqctl', ['-n', 'rabbit@localhost', 'close_all_connections', '--vhost', new URL(testEnv.amqpUrl).pathname.slice(1) || '/', '--limit', '100', 'test: connection lost'], { stdio: 'ignore' });
  const seen = await outcomes(id, 180_000, 8000);
  // The first delivery's link may go out before its ack is lost; the second then sends the same
  // link again (the frontend and the notifier take a link once). What must hold: no failure, one
  // image, one build.
  assert.ok(seen.length > 0 && seen.every((o) => o.kind === 'link'), JSON.stringify(seen.map((o) => o.kind)));
  assert.equal(new Set(seen.map((o) => (o.msg as LinkMessage).sha256)).size, 1, 'one image');
  assert.equal(creator!.output.filter((l) => l.includes('"msg":"image built"') && l.includes(id)).length, 1, 'built once');
  assert.ok(creator!.output.some((l) => l.includes('still being built here') && l.includes(id)), 'the second delivery waited');
  assert.deepEqual(containersOf(id), []);
});
