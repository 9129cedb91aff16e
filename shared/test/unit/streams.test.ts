import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { meter } from '../../src/streams/index.ts';

test('meter passes every byte through unchanged, and counts and hashes them', async () => {
  const chunks = [Buffer.from('hello '), Buffer.alloc(70_000, 7), Buffer.from('world')];
  const seen: number[] = [];
  const m = meter((n) => seen.push(n));
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), m, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  const all = Buffer.concat(chunks);
  assert.ok(Buffer.concat(out).equals(all));
  assert.equal(m.bytes, all.length);
  assert.equal(m.sha256(), createHash('sha256').update(all).digest('hex'));
  assert.equal(seen.at(-1), all.length);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'a running total');
});
