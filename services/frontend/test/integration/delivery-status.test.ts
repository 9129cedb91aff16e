// What the frontend keeps of the notifier's word (email_status, webhook_status messages), in a
// collection of its own, against the real database: the latest word wins, a late "retrying" never
// hides a final state, and the job page's and API's email_status read from it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { CONTRACT_VERSION, type DeliveryStatusMessage } from '@img/shared/contracts';
import { newJobId } from '@img/shared/jobs';
import { connectTestDatabase } from '@img/shared/testing';
import { DeliveryStatuses } from '../../src/jobs/delivery-status.ts';

let db: Connection;
let statuses: DeliveryStatuses;

before(async () => {
  db = await connectTestDatabase();
  statuses = new DeliveryStatuses(db);
  await statuses.init();
});
after(async () => {
  await db?.close();
});

const word = (id: string, m: Partial<DeliveryStatusMessage>): DeliveryStatusMessage => ({
  id, outcome: 'done', channel: 'email', state: 'sent', attempts: 1, at: new Date().toISOString(), version: CONTRACT_VERSION, ...m,
});

test('an email is pending until the notifier says what became of it; not due before the job ends', async () => {
  const id = newJobId();
  assert.equal(await statuses.forJob(id, 'building'), undefined);
  assert.deepEqual(await statuses.forJob(id, 'done'), { state: 'pending' });
  const at = new Date(Date.now() - 1000);
  await statuses.record(word(id, { state: 'sent', at: at.toISOString() }));
  assert.deepEqual(await statuses.forJob(id, 'done'), { state: 'sent', at });
  // Another outcome's email is another record.
  assert.deepEqual(await statuses.forJob(id, 'cancelled'), { state: 'pending' });
  const rejected = newJobId();
  await statuses.record(word(rejected, { outcome: 'failed', state: 'rejected', error: '550: no such user' }));
  assert.equal((await statuses.forJob(rejected, 'failed'))?.state, 'not-delivered');
  assert.equal((await statuses.forJob(rejected, 'failed'))?.error, '550: no such user');
});

test('a webhook\'s word: a late "retrying" (a redelivered message) never hides the final state, an older word never a newer one', async () => {
  const id = newJobId();
  const t = (s: number) => new Date(Date.now() - 60_000 + s * 1000).toISOString();
  await statuses.record(word(id, { channel: 'webhook', state: 'retrying', attempts: 1, at: t(1), error: 'ECONNREFUSED' }));
  assert.equal((await statuses.webhookFor(id, 'done'))?.state, 'retrying');
  await statuses.record(word(id, { channel: 'webhook', state: 'delivered', attempts: 2, at: t(3), status_code: 204 }));
  await statuses.record(word(id, { channel: 'webhook', state: 'retrying', attempts: 1, at: t(5), error: 'late' }));
  await statuses.record(word(id, { channel: 'webhook', state: 'retrying', attempts: 1, at: t(2), error: 'older' }));
  const w = await statuses.webhookFor(id, 'done');
  assert.equal(w?.state, 'delivered');
  assert.equal(w?.status_code, 204);
  assert.equal(w?.attempts, 2);
  // The email of the same job is apart from its webhook.
  assert.deepEqual(await statuses.forJob(id, 'done'), { state: 'pending' });
  await statuses.remove(id);
  assert.deepEqual(await statuses.webhookFor(id, 'done'), { state: 'pending' });
});
