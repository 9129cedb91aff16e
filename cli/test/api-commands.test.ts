// The `img` subcommands that talk to a running IMG: submit --wait, status, log --follow,
// download and cancel, against the real frontend, RabbitMQ and a real build in Docker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let dir: string;

before(async () => {
  // Idempotent and quick when the image is there; a builder image named in the environment is used as it is.
  if (!process.env.IMG_BUILDER_IMAGE) execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600' });
  for (const name of ['image-creator', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  dir = await tempDir('img-cli-');
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
  await purgeAllQueues();
});

/** Runs `img …` as a person would, the server given by IMG_SERVER unless the args say otherwise. */
function img(args: string[], opts: { server?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'cli/bin/img.js'), ...args], {
      cwd: dir, env: { ...process.env, IMG_SERVER: opts.server ?? env.IMG_PUBLIC_URL }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function ks(name: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

test('img submit --wait exits 0 when the image is built; status, log and download then show it', async () => {
  const file = await ks('ok.ks', ['%packages', 'hostname', '%end', '%post', 'echo cli-was-here > /etc/img-cli', '%end']);
  const r = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli'), '--wait', '--interval', '500']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.split('\n')[0]!;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.match(r.stdout, new RegExp(`done: ${env.IMG_PUBLIC_URL}/images/${id}`));
  assert.match(r.stderr, /building · /, 'progress is shown while waiting');

  const status = await img(['status', id]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^status +done$/m);
  const json = JSON.parse((await img(['status', id, '--json'])).stdout) as { sha256: string; size: number };

  const log = await img(['log', id]);
  assert.equal(log.code, 0);
  assert.match(log.stdout, /echo cli-was-here/);

  const got = await img(['download', id, '-o', 'image.tar.zst']);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /checksum verified/);
  const body = await readFile(join(dir, 'image.tar.zst'));
  assert.equal(body.length, json.size);
  assert.equal(createHash('sha256').update(body).digest('hex'), json.sha256);
});

test('img submit --wait exits 1 with the error on a job whose %post fails; log --follow ends with it', async () => {
  const file = await ks('bad.ks', ['%packages', 'hostname', '%end', '%post', 'echo before the failure', 'this-command-does-not-exist --really', '%end']);
  const r = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli-fail'), '--wait', '--interval', '500']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /failed \(post_script_failed\): .*this-command-does-not-exist --really/);
  const id = r.stdout.split('\n')[0]!;
  const follow = await img(['log', id, '--follow']);
  assert.equal(follow.code, 0);
  assert.match(follow.stdout, /this-command-does-not-exist: not found/);
  assert.equal((await img(['download', id])).code, 1, 'no image to download');
});

test('img cancel cancels a waiting job; the subcommands say what is wrong and exit non-zero', async () => {
  // Two submissions: the first occupies the builder, the second waits and is cancelled.
  const file = await ks('slow.ks', ['%packages', 'hostname', '%end', '%post', 'sleep 5', '%end']);
  const first = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli')]);
  const second = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli')]);
  const id = second.stdout.trim();
  const cancelled = await img(['cancel', id]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(cancelled.stdout.trim(), `${id} cancelled`);
  const again = await img(['cancel', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /cancelled and cannot be cancelled/);
  await img(['cancel', first.stdout.trim()]);

  const refused = await img(['submit', '--ks', file, '--type', 'nand', '--email', uniqueEmail('cli')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /imagetype: 'nand' was a MeeGo hardware format/);
  assert.equal((await img(['submit', '--type', 'tar'])).code, 2, 'usage');
  assert.equal((await img(['status', '0'.repeat(32)])).code, 1);
  const down = await img(['status', id], { server: 'http://127.0.0.1:9' });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the IMG server at http:\/\/127\.0\.0\.1:9/);
  const flag = await img(['status', id, '--server', env.IMG_PUBLIC_URL], { server: 'http://127.0.0.1:9' });
  assert.equal(flag.code, 0, '--server wins over IMG_SERVER');
});
