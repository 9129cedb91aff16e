// up.sh's operator credentials: made once in the state directory, readable by root only, kept on
// later runs, never printed; and a frontend given them (as up.sh gives them) takes them and
// nothing else on an operator route.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, stackEnv, startService, tempDir, type ServiceProcess } from '../../src/testing/index.ts';

/** up.sh's operator block alone, with its say/die, run in a state directory of the test's own. */
function runBlock(stateDir: string, env: Record<string, string> = {}): { out: string; exported: Record<string, string> } {
  const script = readFileSync(join(repoRoot, 'deploy/local/up.sh'), 'utf8');
  const block = /^# --- Operator credentials -+\n[\s\S]*?(?=^# --- )/m.exec(script)?.[0];
  assert.ok(block, 'up.sh has an operator credentials block');
  const file = join(stateDir, 'run-block.sh');
  writeFileSync(file, [
    'set -euo pipefail',
    'say() { printf \'[up] %s\\n\' "$*"; }',
    'die() { printf \'[up] error: %s\\n\' "$*" >&2; exit 1; }',
    block,
    'printf "EXPORTED %s=%s\\n" IMG_OPERATOR_USER "$(printenv IMG_OPERATOR_USER)" IMG_OPERATOR_PASSWORD "$(printenv IMG_OPERATOR_PASSWORD)" IMG_OPERATOR_TOKEN "$(printenv IMG_OPERATOR_TOKEN)" >&3',
  ].join('\n'));
  const { IMG_OPERATOR_USER: _u, IMG_OPERATOR_PASSWORD: _p, IMG_OPERATOR_TOKEN: _t, ...inherited } = process.env;
  const all = execFileSync('bash', ['-c', `bash ${file} 3>&1 2>&1`], { env: { ...inherited, IMG_STATE_DIR: stateDir, ...env }, encoding: 'utf8' });
  const exported = Object.fromEntries([...all.matchAll(/^EXPORTED (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { out: all.replace(/^EXPORTED .*\n/gm, ''), exported };
}

const cleanup: string[] = [];
let frontend: ServiceProcess | undefined;
after(async () => {
  await frontend?.stop();
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

test('the first run makes user, password and token, 0600, says where and never what; later runs keep them; the environment wins', async () => {
  const state = await tempDir('img-state-');
  cleanup.push(state);
  const file = join(state, 'operator-credentials');
  const first = runBlock(state);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const kept = Object.fromEntries([...readFileSync(file, 'utf8').matchAll(/^(IMG_OPERATOR_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  assert.equal(kept.IMG_OPERATOR_USER, 'operator');
  assert.match(kept.IMG_OPERATOR_PASSWORD ?? '', /^[A-Za-z0-9_-]{40}$/);
  assert.match(kept.IMG_OPERATOR_TOKEN ?? '', /^[A-Za-z0-9_-]{40}$/);
  assert.notEqual(kept.IMG_OPERATOR_PASSWORD, kept.IMG_OPERATOR_TOKEN);
  assert.deepEqual(first.exported, kept, 'exported to the services up.sh starts');
  assert.ok(first.out.includes(file), `says where: ${first.out}`);
  for (const secret of [kept.IMG_OPERATOR_PASSWORD!, kept.IMG_OPERATOR_TOKEN!]) assert.ok(!first.out.includes(secret), 'never prints a secret');

  const again = runBlock(state);
  assert.deepEqual(again.exported, kept, 'a later run keeps them');
  const elsewhere = await tempDir('img-state-');
  cleanup.push(elsewhere);
  assert.notEqual(runBlock(elsewhere).exported.IMG_OPERATOR_TOKEN, kept.IMG_OPERATOR_TOKEN, 'each state directory gets its own');
  assert.equal(runBlock(state, { IMG_OPERATOR_TOKEN: 'from-the-environment' }).exported.IMG_OPERATOR_TOKEN, 'from-the-environment');

  // A file without its token (an older one) gets one; a file made readable by others is tightened.
  writeFileSync(file, `IMG_OPERATOR_USER=operator\nIMG_OPERATOR_PASSWORD=${kept.IMG_OPERATOR_PASSWORD}\n`, { mode: 0o644 });
  execFileSync('chmod', ['644', file]);
  const healed = runBlock(state);
  assert.equal(healed.exported.IMG_OPERATOR_PASSWORD, kept.IMG_OPERATOR_PASSWORD);
  assert.match(healed.exported.IMG_OPERATOR_TOKEN ?? '', /^[A-Za-z0-9_-]{40}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('a frontend given the credentials as up.sh gives them answers its operator routes to them only', async () => {
  const state = await tempDir('img-state-');
  cleanup.push(state);
  const { exported } = runBlock(state);
  const env = await stackEnv(exported);
  cleanup.push(env.IMG_DATA_DIR);
  frontend = await startService('frontend', env);
  // Filtering the queue by email is an operator route that changes nothing.
  const url = `${env.IMG_PUBLIC_URL}/api/v1/jobs?email=nobody@example.org`;
  const as = (authorization?: string) => fetch(url, { headers: authorization ? { authorization } : {} }).then((r) => r.status);
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  assert.equal(await as(), 401);
  assert.equal(await as('Bearer not-the-token'), 403);
  assert.equal(await as(basic('operator', 'wrong')), 403);
  assert.equal(await as(`Bearer ${exported.IMG_OPERATOR_TOKEN}`), 200);
  assert.equal(await as(basic(exported.IMG_OPERATOR_USER!, exported.IMG_OPERATOR_PASSWORD!)), 200);
  assert.ok(!frontend.output.join('\n').includes(exported.IMG_OPERATOR_PASSWORD!), 'the frontend does not log the password');
  assert.ok(!frontend.output.join('\n').includes(exported.IMG_OPERATOR_TOKEN!), 'nor the token');
});
