// How submitters are told apart for their fair share: client addresses (IPv6 by /64) and emails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey, emailKey, FairShare } from '../../src/jobs/fair-share.ts';
import type { JobSummary } from '../../src/jobs/job-summary.ts';

test('client addresses: IPv4 as it is, IPv4-mapped unwrapped, IPv6 by its /64 in any spelling', () => {
  assert.equal(clientKey('127.0.0.2'), '127.0.0.2');
  assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(clientKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(clientKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey(undefined), 'unknown');
});

test('emails: case and a +tag do not make another submitter', () => {
  assert.equal(emailKey('Ann+builds@Example.org'), 'ann@example.org');
  assert.equal(emailKey('ann@example.org'), 'ann@example.org');
});

test('a place is held from the check until the job is stored, and only finished jobs free one', () => {
  const jobs: JobSummary[] = [];
  const job = (email: string, client: string, status: JobSummary['status']): JobSummary =>
    ({ id: String(jobs.length), email, client, status, type: 'tar', phase: 'queued', source: 'kickstart', created: new Date() });
  const share = new FairShare(() => jobs, 2);
  jobs.push(job('a@x', '1.1.1.1', 'queued'), job('a@x', '1.1.1.1', 'done'));
  const held = share.reserve({ email: 'b@x', client: '1.1.1.1' });
  assert.ok(held.ok);
  const refused = share.reserve({ email: 'c@x', client: '1.1.1.1' });
  assert.ok(!refused.ok);
  assert.match(refused.refusal.message, /your client address has 2 jobs waiting or building, and the limit per client address is 2/);
  held.release();
  held.release();
  assert.ok(share.check({ email: 'c@x', client: '1.1.1.1' }) === undefined);
  jobs.push(job('A+1@x', '2.2.2.2', 'building'));
  assert.match(share.check({ email: 'a@X', client: '3.3.3.3' })?.message ?? '', /your email address has 2 jobs/);
});
