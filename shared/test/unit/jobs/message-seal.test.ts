// Seals: what the frontend vouches for, checked by services that read none of its records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, isSealedJob, isSealedNotify, seal, sealJob, sealNotify } from '../../../src/jobs/message-seal.ts';

const secret = 'img-test-token-secret-0123456789abcdefghijklmnop';
const id = '0123456789abcdef0123456789abcdef';

test('a job\'s seal holds for its id, address and image type only, and only under the secret', () => {
  const s = sealJob(secret, { id, email: 'Owner@Example.com', imagetype: 'tar' });
  assert.match(s, /^[0-9a-f]{64}$/);
  assert.ok(isSealedJob(secret, { id, email: 'owner@example.com', imagetype: 'tar', seal: s }), 'the address compared as the services compare it');
  assert.ok(!isSealedJob(secret, { id, email: 'thief@example.com', imagetype: 'tar', seal: s }));
  assert.ok(!isSealedJob(secret, { id, email: 'owner@example.com', imagetype: 'raw', seal: s }));
  assert.ok(!isSealedJob(secret, { id: id.replace('0', '1'), email: 'owner@example.com', imagetype: 'tar', seal: s }));
  assert.ok(!isSealedJob(`${secret}x`, { id, email: 'owner@example.com', imagetype: 'tar', seal: s }));
  for (const bad of [undefined, '', 'zz', s.toUpperCase(), `${s}0`]) assert.ok(!isSealedJob(secret, { id, email: 'owner@example.com', imagetype: 'tar', seal: bad }), String(bad));
});

test('a notify seal covers every field, at any depth, whatever the order of the keys', () => {
  const msg = { id, outcome: 'done', email: 'a@example.com', job: { type: 'tar', platform: 'MINIMAL' }, report: { id, size: 1, excerpt: ['x'] } };
  const sealed = { ...msg, seal: sealNotify(secret, msg) };
  const reordered = { seal: sealed.seal, report: { excerpt: ['x'], size: 1, id }, job: { platform: 'MINIMAL', type: 'tar' }, email: 'a@example.com', outcome: 'done', id };
  assert.ok(isSealedNotify(secret, sealed));
  assert.ok(isSealedNotify(secret, reordered));
  assert.ok(!isSealedNotify(secret, { ...sealed, email: 'b@example.com' }));
  assert.ok(!isSealedNotify(secret, { ...sealed, job: { type: 'tar', platform: 'OTHER' } }));
  assert.ok(!isSealedNotify(secret, { ...sealed, report: { id, size: 2, excerpt: ['x'] } }));
  assert.ok(!isSealedNotify(secret, { ...sealed, job: { type: 'tar', platform: 'MINIMAL', callback_url: 'http://evil.example/' } }), 'a field added is a change');
  // One purpose's seal is no other's.
  assert.notEqual(seal(secret, 'job', { id }), seal(secret, 'notify', { id }));
  assert.equal(canonicalJson({ b: 1, a: [1, { d: undefined, c: 2 }] }), '{"a":[1,{"c":2}],"b":1}');
});
