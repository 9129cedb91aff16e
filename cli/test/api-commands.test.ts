// The `img` subcommands that talk to a running IMG: submit --wait, status, log --follow,
// download and cancel, against the real frontend, RabbitMQ and a real build in Docker; the job
// tokens img submit keeps, --token, and another account (another state directory) without them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let dir: string;
/** The submitting account's state directory (its kept tokens), and another account's. */
let state: string;
let otherState: string;
const OPERATOR_TOKEN = 'cli-test-operator-token-0123456789abcdef';

before(async () => {
  // Idempotent and quick when the image is there; a builder image named in the environment is used as it is.
  if (!process.env.IMG_BUILDER_IMAGE) execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600', IMG_OPERATOR_TOKEN: OPERATOR_TOKEN });
  for (const name of ['image-creator', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  dir = await tempDir('img-cli-');
  state = join(dir, 'state');
  otherState = join(dir, 'other-state');
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
  await purgeAllQueues();
});

/**
 * Runs `img …` as a person would, the server given by IMG_SERVER unless the args say otherwise,
 * with the submitting account's state directory unless another is given.
 */
function img(args: string[], opts: { server?: string; state?: string; operatorToken?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { IMG_OPERATOR_TOKEN: _op, ...inherited } = process.env;
    const child = spawn(process.execPath, [join(repoRoot, 'cli/bin/img.js'), ...args], {
      cwd: dir,
      env: {
        ...inherited, IMG_SERVER: opts.server ?? env.IMG_PUBLIC_URL, XDG_STATE_HOME: opts.state ?? state,
        ...(opts.operatorToken ? { IMG_OPERATOR_TOKEN: opts.operatorToken } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The tokens the submitting account keeps, by job id, for the test's server. */
async function keptTokens(): Promise<Record<string, string>> {
  const file = JSON.parse(await readFile(join(state, 'img', 'tokens.json'), 'utf8')) as { servers: Record<string, Record<string, { token: string }>> };
  return Object.fromEntries(Object.entries(file.servers[env.IMG_PUBLIC_URL] ?? {}).map(([id, e]) => [id, e.token]));
}

let builtId = '';

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
  builtId = id;

  // It worked on the token img submit kept: in a file of this account's only, by server and job.
  assert.equal((await stat(join(state, 'img', 'tokens.json'))).mode & 0o777, 0o600);
  const token = (await keptTokens())[id];
  assert.ok(token && token.length >= 20, 'the job\'s token is kept');
  for (const out of [r, status, got]) assert.ok(!`${out.stdout}${out.stderr}`.includes(token), 'the token is not printed');
  assert.ok(!JSON.stringify(json).includes(token), 'not even by --json');
});

test('another account has no token: status shows the public view, log, download and cancel say how to get one; --token lets it in', async () => {
  assert.ok(builtId, 'needs the built job of the first test');
  const id = builtId;
  const token = (await keptTokens())[id]!;
  const noToken = `no token for job ${id}: pass --token, or run this from the account that submitted it`;

  const status = await img(['status', id, '--json'], { state: otherState });
  assert.equal(status.code, 0, status.stderr);
  assert.ok(status.stderr.includes(noToken), status.stderr);
  const shown = JSON.parse(status.stdout) as { email: string; sha256?: string };
  assert.match(shown.email, /^c\*\*\*@/, 'the public view masks the email');
  assert.equal(shown.sha256, undefined, 'and shows no result');
  for (const args of [['log', id], ['download', id, '-o', 'other.tar.zst'], ['cancel', id]]) {
    const r = await img(args, { state: otherState });
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(noToken), `${args[0]}: ${r.stderr}`);
  }

  const log = await img(['log', id, '--token', token], { state: otherState });
  assert.equal(log.code, 0, log.stderr);
  assert.match(log.stdout, /echo cli-was-here/);
  const got = await img(['download', id, '-o', 'with-token.tar.zst', '--token', token], { state: otherState });
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /checksum verified/);
  const full = await img(['status', id, '--json', '--token', token], { state: otherState });
  assert.equal(full.code, 0, full.stderr);
  assert.ok(!full.stderr.includes('no token'), full.stderr);
  assert.match((JSON.parse(full.stdout) as { email: string }).email, /^cli-/, 'the token holder sees the whole email');

  // The operator's token, from IMG_OPERATOR_TOKEN, when no job token is kept.
  const operator = await img(['log', id], { state: otherState, operatorToken: OPERATOR_TOKEN });
  assert.equal(operator.code, 0, operator.stderr);
  assert.match(operator.stdout, /echo cli-was-here/);
});

test('another job\'s token is refused, and --token wins over the kept one', async () => {
  assert.ok(builtId, 'needs the built job of the first test');
  const file = await ks('other.ks', ['%packages', 'hostname', '%end', '%post', 'sleep 30', '%end']);
  const other = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli-other')]);
  assert.equal(other.code, 0, other.stderr);
  const otherId = other.stdout.trim();
  const tokens = await keptTokens();
  assert.ok(tokens[otherId] && tokens[builtId], 'both tokens are kept, each under its job');
  assert.notEqual(tokens[otherId], tokens[builtId]);

  for (const args of [['log', builtId], ['download', builtId, '-o', 'x.tar.zst'], ['status', builtId], ['cancel', builtId]]) {
    const r = await img([...args, '--token', tokens[otherId]!], { state: otherState });
    assert.equal(r.code, 1, `${args[0]} with another job's token: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`the token given with --token is not job ${builtId}'s`), `${args[0]}: ${r.stderr}`);
  }
  // The submitting account has the right token kept, but --token wins.
  const wrong = await img(['log', builtId, '--token', tokens[otherId]!]);
  assert.equal(wrong.code, 1);
  assert.equal((await img(['log', builtId])).code, 0);

  const cancelled = await img(['cancel', otherId]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(cancelled.stdout.trim(), `${otherId} cancelled`);
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

test('img submit --suite and --callback-url reach the server, which names what is wrong with each', async () => {
  const file = await ks('suite.ks', ['%packages', 'hostname', '%end']);
  const suite = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli'), '--suite', 'potato']);
  assert.equal(suite.code, 1);
  assert.match(suite.stderr, /suite: .*potato.*trixie.*bookworm.*forky.*sid/);
  // This server sends no webhooks (its operator set no IMG_WEBHOOK_HOSTS): the field says so.
  const hook = await img(['submit', '--ks', file, '--type', 'tar', '--email', uniqueEmail('cli'), '--callback-url', 'https://ci.example.org/hook']);
  assert.equal(hook.code, 1);
  assert.match(hook.stderr, /callback_url: the callback URL this IMG does not send webhooks/);
});
