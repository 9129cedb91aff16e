import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { BuildRegistry, builderVersion, requestHash, type BuiltImage } from '../../src/builds/index.ts';
import { parseKickstart } from '../../src/kickstart/index.ts';
import { connectTestDatabase } from '../../src/testing/index.ts';

let db: Connection;
const missing = new Set<string>();
let registry: BuildRegistry;
const hour = 3_600_000;

before(async () => {
  db = await connectTestDatabase();
  registry = new BuildRegistry(db, { retentionMs: 24 * hour, staleMs: hour, imageExists: async (i) => !missing.has(i.job) });
  await registry.init();
});
after(async () => {
  await db?.close();
});

const hash = () => randomBytes(32).toString('hex');
const job = () => randomBytes(16).toString('hex');
const image = (j: string): BuiltImage => ({ job: j, filename: 'img.tar.zst', size: 10, sha256: 'a'.repeat(64), duration_s: 30 });

test('the first request claims the build, an identical one waits for it, and later ones are answered from its image', async () => {
  const h = hash(), a = job(), b = job(), c = job();
  assert.deepEqual(await registry.claim(h, a), { kind: 'claimed' });
  const waiting = await registry.claim(h, b);
  assert.equal(waiting.kind, 'building');
  assert.equal(waiting.kind === 'building' && waiting.job, a);
  await registry.complete(h, image(a));
  assert.deepEqual(await registry.claim(h, c), { kind: 'done', image: image(a) });
  assert.deepEqual(await registry.lookup(h), image(a));
});

test('concurrent identical requests: exactly one builds', async () => {
  const h = hash();
  const claims = await Promise.all(Array.from({ length: 6 }, () => registry.claim(h, job())));
  assert.equal(claims.filter((c) => c.kind === 'claimed').length, 1);
  assert.equal(claims.filter((c) => c.kind === 'building').length, 5);
});

test('a failed build is not kept: the next identical request builds', async () => {
  const h = hash(), a = job(), b = job();
  await registry.claim(h, a);
  await registry.release(h, a);
  assert.deepEqual(await registry.claim(h, b), { kind: 'claimed' });
});

test('an image past the retention, or whose file is gone, is built again', async () => {
  const h = hash(), a = job();
  await registry.claim(h, a);
  await registry.complete(h, image(a));
  assert.deepEqual(await registry.claim(h, job(), Date.now() + 25 * hour), { kind: 'claimed' });
  const h2 = hash(), b = job();
  await registry.claim(h2, b);
  await registry.complete(h2, image(b));
  missing.add(b);
  assert.equal(await registry.lookup(h2), undefined);
  assert.deepEqual(await registry.claim(h2, job()), { kind: 'claimed' });
});

test('a build whose builder died is taken over after the stale time', async () => {
  const h = hash();
  await registry.claim(h, job());
  assert.deepEqual(await registry.claim(h, job(), Date.now() + 2 * hour), { kind: 'claimed' });
});

test('a long build whose builder keeps its heartbeat is not taken over, however old the claim', async () => {
  const h = hash(), a = job();
  const t0 = Date.now();
  await registry.claim(h, a, t0);
  // Three hours of building, renewed every half hour: never stale.
  for (let t = t0; t <= t0 + 3 * hour; t += hour / 2) await registry.heartbeat(h, a, t);
  const waiting = await registry.claim(h, job(), t0 + 3 * hour + hour / 2);
  assert.equal(waiting.kind, 'building');
  // Its builder goes quiet: one stale time after the last heartbeat the claim is free.
  assert.deepEqual(await registry.claim(h, job(), t0 + 4 * hour + 1), { kind: 'claimed' });
});

test('two deliveries of one job: the second waits for the first\'s live build, takes it over once stale, and is answered from it once done', async () => {
  const h = hash(), a = job();
  const t0 = Date.now();
  assert.deepEqual(await registry.claim(h, a, t0, 'delivery-1'), { kind: 'claimed' });
  assert.equal(await registry.buildingFor(a, t0), true);
  // The same message delivered again (its first consumer's RabbitMQ node died): not a second build.
  const second = await registry.claim(h, a, t0 + 1000, 'delivery-2');
  assert.equal(second.kind, 'building');
  assert.equal(second.kind === 'building' && second.job, a);
  // The first delivery asks again (after a redelivery in its own process): still its claim.
  assert.deepEqual(await registry.claim(h, a, t0 + 2000, 'delivery-1'), { kind: 'claimed' });
  // Its builder went quiet past the stale time: the second delivery builds.
  assert.equal(await registry.buildingFor(a, t0 + 2000 + hour), false);
  assert.deepEqual(await registry.claim(h, a, t0 + 2000 + hour, 'delivery-2'), { kind: 'claimed' });
  await registry.complete(h, image(a));
  assert.equal(await registry.buildingFor(a), false);
  assert.deepEqual(await registry.claim(h, a, Date.now(), 'delivery-3'), { kind: 'done', image: image(a) });
});

test('the request hash ignores comments, spacing and option order, but not the packages, the type or the builder', () => {
  const plan = (ks: string) => parseKickstart(ks).plan!;
  const a = plan('%packages\nhostname\n%end\n%post\necho hi\n%end\n');
  const b = plan('# same request\n\n%packages\n  hostname\n%end\n\n%post\necho hi\n%end\n');
  const c = plan('%packages\nhostname\nvim\n%end\n%post\necho hi\n%end\n');
  const v = builderVersion();
  assert.match(v, /^[0-9a-f]{16}$/);
  assert.equal(requestHash(a, 'tar', v), requestHash(b, 'tar', v));
  assert.notEqual(requestHash(a, 'tar', v), requestHash(c, 'tar', v));
  assert.notEqual(requestHash(a, 'tar', v), requestHash(a, 'raw', v));
  assert.notEqual(requestHash(a, 'tar', v), requestHash(a, 'tar', 'other'));
});

test('a rebuild is not answered from a finished build: it claims the build, and its own image answers it and the requests after it', async () => {
  const h = hash(), a = job(), b = job(), c = job(), d = job();
  assert.deepEqual(await registry.claim(h, a), { kind: 'claimed' });
  await registry.complete(h, image(a));
  assert.deepEqual(await registry.claim(h, b, Date.now(), b, { rebuild: true }), { kind: 'claimed' });
  // While it builds, an identical request (rebuild or not) waits for it rather than take the old image.
  const waiting = await registry.claim(h, c, Date.now(), c, { rebuild: true });
  assert.equal(waiting.kind === 'building' && waiting.job, b);
  await registry.complete(h, image(b));
  // Another delivery of the rebuild job is answered from its own build.
  assert.deepEqual(await registry.claim(h, b, Date.now(), 'another delivery', { rebuild: true }), { kind: 'done', image: image(b) });
  assert.deepEqual(await registry.claim(h, d), { kind: 'done', image: image(b) });
});
