// What a %post leaves running is killed before the image is assembled (deploy/builder/leftovers.sh),
// in a container of the builder image run with the sandbox's own settings: a background child, an
// orphan, a double-forked session leader and a process that changed to another user all go, and
// a process image-creator runs in the container with docker exec (it reads the cache offer while the
// build goes on) is left alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, waitFor } from '@img/shared/testing';
import { SANDBOX_CAPABILITIES } from '@img/shared/sandbox';

const name = `img-leftovers-${process.pid}`;
after(() => {
  try { execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' }); } catch { /* not started */ }
});

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' });
/** The command lines of the container's processes, read from /proc. */
const processes = () => docker('exec', name, 'bash', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done')
  .split('\n').map((l) => l.trim()).filter(Boolean);

test('the %post\'s leftovers are killed, and the processes image-creator runs in the container are not', async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  const builder = execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh'), '--print-tag'], { encoding: 'utf8' }).trim();
  const script = [
    '. /opt/img/leftovers.sh',
    'fail() { echo "FAILED $1"; exit 1; }',
    'sleep 601 &',
    'bash -c "sleep 602 &"',
    '(setsid bash -c "sleep 603 & exec sleep 604" &)',
    'setpriv --reuid=4242 --regid=4242 --clear-groups sleep 605 &',
    'echo STARTED',
    'while [ ! -e /work/go ]; do sleep 0.05; done',
    'kill_leftovers',
    'echo KILLED',
    'exec sleep 900',
  ].join('\n');
  docker('run', '-d', '--name', name, '--init', '--cap-drop', 'ALL', ...SANDBOX_CAPABILITIES.flatMap((c) => ['--cap-add', c]),
    '--security-opt', 'no-new-privileges', '--read-only', '--tmpfs', '/work:rw,exec,mode=0755,size=64m', builder, 'bash', '-c', script);
  await waitFor('the leftovers to start', async () => (docker('logs', name).includes('STARTED') ? true : undefined), { timeoutMs: 60_000 });
  // image-creator's own command in the container, as it runs them: docker exec.
  docker('exec', '-d', name, 'sleep', '701');
  await waitFor('the exec\'d process', async () => (processes().includes('sleep 701') ? true : undefined), { timeoutMs: 30_000 });
  for (const n of [601, 602, 603, 604, 605]) assert.ok(processes().includes(`sleep ${n}`), `sleep ${n} runs before: ${processes().join(' | ')}`);
  docker('exec', name, 'touch', '/work/go');
  await waitFor('the leftovers to be killed', async () => (/KILLED|FAILED/.test(docker('logs', name)) ? true : undefined), { timeoutMs: 60_000 });
  assert.match(docker('logs', name), /KILLED/);
  const left = processes();
  for (const n of [601, 602, 603, 604, 605]) assert.ok(!left.includes(`sleep ${n}`), `sleep ${n} was killed: ${left.join(' | ')}`);
  assert.ok(left.includes('sleep 701'), `image-creator's process is left alone: ${left.join(' | ')}`);
});
