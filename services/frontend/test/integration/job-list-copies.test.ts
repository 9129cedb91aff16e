// Two copies of the frontend on one database: each keeps the job list in memory, and sees what
// the other wrote within its refresh interval (the revision token tells it to read again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { purgeAllQueues, stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { wipeJobs } from '../support/http.ts';

const copies: Array<{ proc: ServiceProcess; url: string; dir: string }> = [];
const OPERATOR = 'operator-token-for-the-copies-test';

before(async () => {
  await purgeAllQueues();
  await wipeJobs();
  for (let i = 0; i < 2; i++) {
    const env = await stackEnv({ IMG_QUEUE_REFRESH_MS: '300', IMG_OPERATOR_TOKEN: OPERATOR });
    copies.push({ proc: await startService('frontend', env), url: env.IMG_PUBLIC_URL, dir: env.IMG_DATA_DIR });
  }
});
after(async () => {
  for (const c of copies) {
    await c.proc.stop();
    await rm(c.dir, { recursive: true, force: true });
  }
  await purgeAllQueues();
});

async function statusIn(url: string, id: string, email: string): Promise<string | undefined> {
  // Filtering the list by email is the operator's.
  const res = await fetch(`${url}/api/v1/jobs?email=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  const body = (await res.json()) as { jobs: Array<{ id: string; status: string }> };
  return body.jobs.find((j) => j.id === id)?.status;
}

test('a job submitted to one copy shows in the other copy\'s list, and so does its cancellation', async () => {
  const [a, b] = copies as [typeof copies[0], typeof copies[0]];
  const email = uniqueEmail('copies');
  const res = await fetch(`${a.url}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, imagetype: 'tar', kickstart: '%packages\nhostname\n%end\n' }) });
  const { id, token } = (await res.json()) as { id: string; token: string };
  assert.equal(await statusIn(a.url, id, email), 'queued', 'the copy that wrote sees it at once');
  await waitFor('the other copy to list it', async () => (await statusIn(b.url, id, email)) === 'queued', { timeoutMs: 5000, intervalMs: 100 });
  // The copies share the token key: a job submitted to one is cancelled through the other with its token.
  assert.equal((await fetch(`${b.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 200);
  assert.equal(await statusIn(b.url, id, email), 'cancelled');
  await waitFor('the first copy to see the cancellation', async () => (await statusIn(a.url, id, email)) === 'cancelled', { timeoutMs: 5000, intervalMs: 100 });
});
