// A service whose broker, database or Docker engine is unreachable at start says which one, where,
// and that it retries; it keeps running rather than crashing in a loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, repoRoot, stackEnv, waitFor } from '../../src/testing/index.ts';

async function watch(service: string, env: Record<string, string>, expect: RegExp) {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'services', service, 'src', 'main.ts')], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  try {
    await waitFor(`${service} to report ${expect}`, async () => (out.match(new RegExp(expect.source, 'g')) ?? []).length >= 2, { timeoutMs: 20_000 });
    assert.equal(proc.exitCode, null, 'still running, retrying');
    return out;
  } finally {
    proc.kill('SIGKILL');
  }
}

test('frontend with RabbitMQ unreachable says so, with the URL and the attempt, and retries', async () => {
  const port = await freePort();
  const env = await stackEnv({ IMG_AMQP_URL: `amqp://guest:secret-pw@127.0.0.1:${port}` });
  const out = await watch('frontend', env, /RabbitMQ unreachable, retrying/);
  assert.match(out, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(out, /"attempt":2/);
  assert.doesNotMatch(out, /secret-pw/, 'the password is not logged');
  await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

test('notifier with the database unreachable says so and retries', async () => {
  const port = await freePort();
  const env = await stackEnv({ IMG_MONGO_URL: `mongodb://127.0.0.1:${port}/img` });
  const out = await watch('notifier', env, /database unreachable, retrying/);
  assert.match(out, new RegExp(`127\\.0\\.0\\.1:${port}`));
  await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

test('image-creator with the Docker engine unreachable says so and retries', async () => {
  const env = await stackEnv({ IMG_DOCKER_SOCKET: '/nonexistent/docker.sock' });
  const out = await watch('image-creator', env, /Docker engine unreachable, retrying/);
  assert.match(out, /\/nonexistent\/docker\.sock/);
  await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

test('a bad setting stops the service at once with a message naming the variable', async () => {
  const env = await stackEnv({ IMG_HTTP_PORT: 'eighty' });
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'services/frontend/src/main.ts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  assert.equal(code, 1);
  assert.match(err, /IMG_HTTP_PORT/);
  await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

test('a frontend whose port another process holds stops with a message naming the address and the settings, never saying it is ready', async () => {
  const { createServer } = await import('node:net');
  const holder = createServer();
  const env = await stackEnv();
  await new Promise<void>((r) => holder.listen(Number(env.IMG_HTTP_PORT), '127.0.0.1', () => r()));
  try {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'services/frontend/src/main.ts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    // It exits, or says it is ready (what it must not): whichever comes first.
    const ready = waitFor('the frontend to say it is ready', async () => /"msg":"ready"/.test(out), { timeoutMs: 120_000 }).then(() => 'ready');
    const outcome = await Promise.race([new Promise<string>((r) => proc.once('exit', (c) => r(`exit ${c}`))), ready.catch(() => 'neither')]);
    proc.kill('SIGKILL');
    assert.equal(outcome, 'exit 1', out);
    assert.match(out, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${env.IMG_HTTP_PORT} \\(IMG_HTTP_HOST, IMG_HTTP_PORT\\): another process is listening there`));
    assert.doesNotMatch(out, /"msg":"ready"/);
  } finally {
    holder.close();
    await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  }
});
