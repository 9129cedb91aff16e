// The file of kept job tokens: where it is, who may read it, and that parallel writers lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir } from '@img/shared/testing';
import { serverKey, tokenFilePath, TokenStore } from '../../src/token-store.ts';
import { credentialFor, describeJobError } from '../../src/job-auth.ts';
import { ApiError, shownJob, shownLink, type ApiJob } from '../../src/client.ts';

test('the file is under XDG_STATE_HOME, else ~/.local/state; servers are keyed without a trailing slash or case', () => {
  assert.equal(tokenFilePath({ XDG_STATE_HOME: '/x/state', HOME: '/home/a' }), '/x/state/img/tokens.json');
  assert.equal(tokenFilePath({ XDG_STATE_HOME: 'relative', HOME: '/home/a' }), '/home/a/.local/state/img/tokens.json');
  assert.equal(tokenFilePath({ HOME: '/home/a' }), '/home/a/.local/state/img/tokens.json');
  assert.equal(serverKey('http://IMG.Example:8080/'), 'http://img.example:8080');
  assert.equal(serverKey('https://example.org/img//'), 'https://example.org/img');
});

test('tokens are kept per server and job in a file only its user can read, and parallel writers keep all', async () => {
  const dir = await tempDir('img-tokens-');
  try {
    const store = new TokenStore(join(dir, 'state', 'img', 'tokens.json'));
    assert.equal(await store.get('http://a:1', 'j1'), undefined, 'no file yet: no token');
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('http://a:1', `j${i}`, `t${i}`)));
    await store.put('http://b:2/', 'j1', 'other-server');
    for (let i = 0; i < 20; i++) assert.equal(await store.get('http://a:1/', `j${i}`), `t${i}`);
    assert.equal(await store.get('http://b:2', 'j1'), 'other-server');
    assert.equal(await store.get('http://b:2', 'j2'), undefined);
    assert.equal((await stat(store.file)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(store.file))).mode & 0o077, 0, 'the directory is the user\'s only');
    await chmod(store.file, 0o644);
    await store.get('http://a:1', 'j1');
    assert.equal((await stat(store.file)).mode & 0o777, 0o600, 'a file made readable by others is tightened');
    assert.equal(JSON.parse(await readFile(store.file, 'utf8')).version, 1);

    await writeFile(store.file, 'not json');
    await assert.rejects(store.get('http://a:1', 'j1'), /is not a token file of this img; move it away/);
    await assert.rejects(store.put('http://a:1', 'j1', 't'), /is not a token file/, 'a file of another shape is not overwritten');
    assert.equal(await readFile(store.file, 'utf8'), 'not json');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--token wins over a kept token, which wins over IMG_OPERATOR_TOKEN; without any, a refusal says what to do', async () => {
  const dir = await tempDir('img-tokens-');
  try {
    const store = new TokenStore(join(dir, 'tokens.json'));
    await mkdir(dir, { recursive: true });
    await store.put('http://s', 'j', 'kept');
    const env = { IMG_OPERATOR_TOKEN: 'op' };
    assert.deepEqual(await credentialFor('http://s', 'j', 'flag', { env, store }), { authorization: 'Bearer flag', source: 'flag' });
    assert.deepEqual(await credentialFor('http://s', 'j', undefined, { env, store }), { authorization: 'Bearer kept', source: 'remembered' });
    assert.deepEqual(await credentialFor('http://s', 'k', undefined, { env, store }), { authorization: 'Bearer op', source: 'operator' });
    const none = await credentialFor('http://s', 'k', undefined, { env: {}, store });
    assert.deepEqual(none, { source: 'none' });
    assert.equal(describeJobError(new ApiError(401, 'unauthorized', 'needs a token'), 'k', none, store),
      'no token for job k: pass --token, or run this from the account that submitted it');
    assert.match(describeJobError(new ApiError(403, 'forbidden', 'not this job\'s'), 'j', { source: 'flag' }, store), /the token given with --token is not job j's/);
    assert.match(describeJobError(new ApiError(403, 'forbidden', 'x'), 'j', { source: 'remembered' }, store), new RegExp(`kept for job j in ${store.file} was refused`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('links and --json are printed without the token', () => {
  assert.equal(shownLink('http://s/job/1?token=abc'), 'http://s/job/1');
  assert.equal(shownLink('http://s/api/v1/jobs/1/log?offset=2&token=abc'), 'http://s/api/v1/jobs/1/log?offset=2');
  assert.equal(shownLink(undefined), '');
  const job = { id: '1', token: 'abc', links: { page: 'http://s/job/1?token=abc' } } as unknown as ApiJob;
  assert.deepEqual(shownJob(job), { id: '1', links: { page: 'http://s/job/1' } });
});
