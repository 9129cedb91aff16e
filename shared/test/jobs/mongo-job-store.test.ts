// The job store's contract, run against the real MongoDB-compatible database (FerretDB locally).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { MongoJobStore, type Job } from '../../src/jobs/index.ts';
import { connectTestDatabase, uniqueEmail } from '../../src/testing/index.ts';

let conn: Connection;
let store: MongoJobStore;
before(async () => {
  conn = await connectTestDatabase();
  store = new MongoJobStore(conn);
  await store.init();
});
after(async () => {
  await conn?.close();
});

function newJob(email = uniqueEmail()) {
  return store.create({ email, type: 'tar', source: 'kickstart', kickstart: '%packages\nhostname\n%end\n', filename: 'a.ks' });
}

test('a new job is queued, has an unguessable id and can be read back', async () => {
  const job = await newJob();
  assert.match(job.id, /^[0-9a-f]{32}$/);
  assert.equal(job.status, 'queued');
  const again = await store.get(job.id);
  assert.equal(again?.email, job.email);
  assert.equal(again?.kickstart, '%packages\nhostname\n%end\n');
  assert.deepEqual(again?.history.map((h) => h.status), ['queued']);
  assert.equal(await store.get('0'.repeat(32)), null);
});

test('a transition from a wrong state is refused and leaves the job as it was', async () => {
  const job = await newJob();
  const done = await store.transition(job.id, 'done', { url: 'http://localhost/images/x', size: 10 });
  assert.equal(done?.status, 'done');
  assert.ok(done?.finished instanceof Date);
  assert.equal(await store.transition(job.id, 'building'), null);
  assert.equal(await store.transition(job.id, 'failed', { error: 'late' }), null);
  assert.equal(await store.advancePhase(job.id, 'installing'), null);
  const after = await store.get(job.id);
  assert.equal(after?.status, 'done');
  assert.equal(after?.error, undefined);
  assert.deepEqual(after?.history.map((h) => h.status), ['queued', 'done']);
});

test('two concurrent deliveries of the same message move the job once', async () => {
  const job = await newJob();
  const results = await Promise.all([
    store.transition(job.id, 'failed', { error: 'boom', error_code: 'post_script_failed' }),
    store.transition(job.id, 'failed', { error: 'boom', error_code: 'post_script_failed' }),
    store.transition(job.id, 'done', { size: 1 }),
  ]);
  assert.equal(results.filter((r) => r !== null).length, 1);
  const after = await store.get(job.id);
  assert.equal(after?.history.length, 2, 'exactly one transition recorded');
});

test('two store instances on two connections racing on one job move it once', async () => {
  const other = await connectTestDatabase();
  try {
    const store2 = new MongoJobStore(other);
    for (let round = 0; round < 5; round++) {
      const job = await newJob();
      const results = await Promise.all([
        store.transition(job.id, 'done', { size: 1 }),
        store2.transition(job.id, 'done', { size: 1 }),
        store.transition(job.id, 'failed', { error: 'x' }),
        store2.transition(job.id, 'failed', { error: 'x' }),
      ]);
      assert.equal(results.filter((r) => r !== null).length, 1, `round ${round}`);
      assert.equal((await store.get(job.id))?.history.length, 2);
    }
  } finally {
    await other.close();
  }
});

test('concurrent progress messages enter building once and the phase never moves backwards', async () => {
  const job = await newJob();
  await Promise.all([store.advancePhase(job.id, 'fetching'), store.advancePhase(job.id, 'fetching')]);
  let j = (await store.get(job.id)) as Job;
  assert.equal(j.status, 'building');
  assert.deepEqual(j.history.map((h) => h.status), ['queued', 'building']);
  assert.ok(j.started instanceof Date);
  await store.advancePhase(job.id, 'post');
  assert.equal(await store.advancePhase(job.id, 'installing'), null, 'a late, earlier phase is refused');
  j = (await store.get(job.id)) as Job;
  assert.equal(j.phase, 'post');
  assert.deepEqual(j.history.map((h) => h.status), ['queued', 'building']);
});

test('each phase is recorded when first seen, a repeat or a late earlier phase keeps the times, and how the build started is kept', async () => {
  const job = await store.create({ email: uniqueEmail('phases'), type: 'raw', source: 'kickstart', kickstart: 'x' });
  assert.equal(job.phase_at?.queued?.getTime(), job.created.getTime(), 'queued from its creation');
  const fetching = await store.advancePhase(job.id, 'fetching', { start: 'cached' });
  const firstSeen = fetching!.phase_at!.fetching!;
  assert.equal(fetching!.start, 'cached');
  await store.advancePhase(job.id, 'fetching', { progress: 0.2 });
  const installing = await store.advancePhase(job.id, 'installing', { progress: 0.5 });
  assert.equal(installing!.phase_at!.fetching!.getTime(), firstSeen.getTime(), 'a repeated phase keeps the time it was first seen');
  assert.ok(installing!.phase_at!.installing! >= firstSeen);
  await store.advancePhase(job.id, 'fetching');
  const after = await store.get(job.id);
  assert.deepEqual(Object.keys(after!.phase_at!).sort(), ['fetching', 'installing', 'queued']);
  assert.equal(after!.phase, 'installing');
  const done = await store.transition(job.id, 'done', { duration_s: 3 });
  assert.ok(done!.finished! >= after!.phase_at!.installing!);
});

test('list filters by status and email, newest first, with pagination and a total', async () => {
  const email = uniqueEmail('lister');
  const a = await newJob(email);
  const b = await newJob(email);
  const c = await newJob(email);
  await store.transition(b.id, 'failed', { error: 'x' });
  const all = await store.list({ email }, { limit: 10, skip: 0 });
  assert.equal(all.total, 3);
  assert.deepEqual(all.jobs.map((j) => j.id), [c.id, b.id, a.id]);
  const page2 = await store.list({ email }, { limit: 2, skip: 2 });
  assert.deepEqual(page2.jobs.map((j) => j.id), [a.id]);
  assert.equal(page2.total, 3);
  const failed = await store.list({ email, status: 'failed' }, { limit: 10, skip: 0 });
  assert.deepEqual(failed.jobs.map((j) => j.id), [b.id]);
});

test('delete removes the job and returns what it was', async () => {
  const job = await newJob();
  assert.equal((await store.delete(job.id))?.id, job.id);
  assert.equal(await store.get(job.id), null);
  assert.equal(await store.delete(job.id), null);
});
