// The operator's dashboard in a real browser, after real jobs through the real services: a tar
// build, an identical request answered from it, and a kickstart whose %post fails. The charts
// hold those figures, are drawn (their canvases are not blank), use nothing but this origin, and
// a screenshot is kept in test-output/. Someone else gets 401 or 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jobToken, newJobId } from '@img/shared/jobs';
import { SERIES_COLLECTION } from '@img/shared/metrics';
import { connectTestDatabase, purgeAllQueues, repoRoot, stackEnv, startService, testTokenSecret, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { launch, screenshotDir } from '../support/browser.ts';
import { wipeJobs } from '../support/http.ts';

const USER = 'operator';
const PASSWORD = 'dashboard-test-password-0123456789';
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let laptop: Awaited<ReturnType<typeof launch>>;

interface Stats {
  hourly: { t: number[]; builds: Record<string, number[]>; build_seconds: Record<string, { p50: (number | null)[]; p95: (number | null)[] }>; failures: Record<string, number[]> };
  queue: { waiting: (number | null)[]; building: (number | null)[]; wait_p95: (number | null)[] };
  totals: { builds: Record<string, number>; build_seconds: Record<string, { p50: number | null; p95: number | null; count: number }>; cache: Record<string, { hit: number; miss: number }>; emails: Record<string, number> };
  rising_failures: Array<{ code: string; recent: number; rising: boolean }>;
}

before(async () => {
  if (!process.env.IMG_BUILDER_IMAGE) execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  await wipeJobs();
  const db = await connectTestDatabase();
  await db.collection(SERIES_COLLECTION).deleteMany({});
  await db.close();
  env = await stackEnv({
    IMG_VERIFY_BOOT: 'false', IMG_BUILD_TIMEOUT_S: '600', IMG_BUILD_CONCURRENCY: '1',
    IMG_OPERATOR_USER: USER, IMG_OPERATOR_PASSWORD: PASSWORD,
    // Written and sampled often, so the figures are there soon after the jobs.
    IMG_STATS_FLUSH_MS: '500', IMG_QUEUE_SAMPLE_MS: '1000',
  });
  for (const name of ['image-creator', 'notifier', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  laptop = await launch('laptop');
});

after(async () => {
  await laptop?.close();
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

async function submit(kickstart: string, tag: string): Promise<{ id: string; token: string }> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail(tag), imagetype: 'tar', kickstart }) });
  const json = (await res.json()) as { id: string; token: string };
  assert.equal(res.status, 201, JSON.stringify(json));
  return json;
}

async function finished(job: { id: string; token: string }): Promise<string> {
  return waitFor(`job ${job.id} and its email`, async () => {
    const j = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${job.token}` } })).json()) as { status: string; email_status?: { state: string } };
    return ['done', 'failed', 'cancelled'].includes(j.status) && j.email_status?.state === 'sent' ? j.status : undefined;
  }, { timeoutMs: 900_000, intervalMs: 500 });
}

async function stats(range = 'day'): Promise<Stats> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/operator/stats?range=${range}`, { headers: { authorization: basic } });
  assert.equal(res.status, 200);
  return (await res.json()) as Stats;
}

test('the dashboard and its figures are the operator\'s alone', async () => {
  const base = env.IMG_PUBLIC_URL;
  for (const path of ['/operator', '/api/v1/operator/stats']) {
    assert.equal((await fetch(`${base}${path}`)).status, 401, `${path} without credentials`);
    assert.equal((await fetch(`${base}${path}`, { headers: { authorization: `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}` } })).status, 403, `${path} with a wrong password`);
  }
  const challenge = await fetch(`${base}/operator`);
  assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic realm=/, 'a browser is asked to sign in');

  // In the browser: one with no credentials is asked for them (and has none to give); someone
  // holding a job's token (a token of the kind IMG gives a job's owner) is refused.
  const page = await laptop.context.newPage();
  await assert.rejects(page.goto(`${base}/operator`), /ERR_INVALID_AUTH_CREDENTIALS/);
  await page.setExtraHTTPHeaders({ authorization: `Bearer ${jobToken(testTokenSecret, newJobId())}` });
  const res = await page.goto(`${base}/operator`);
  assert.equal(res?.status(), 403, 'a job\'s owner');
  assert.equal(await page.locator('.chart').count(), 0, 'no chart for them');
  await page.close();
  assert.equal((await fetch(`${base}/api/v1/operator/stats?range=year`, { headers: { authorization: basic } })).status, 400);
});

test('after a build, an identical request and a failing %post, the charts show those figures', async () => {
  const base = env.IMG_PUBLIC_URL;
  const good = `%packages\nhostname\n%end\n%post\necho dashboard ${Date.now()}\n%end\n`;
  const jobs = [await submit(good, 'dash-done'), await submit(good, 'dash-reused'), await submit(`%packages\nhostname\n%end\n%post\necho ${Date.now()}\nfalse\n%end\n`, 'dash-failed')];
  assert.deepEqual(await Promise.all(jobs.map(finished)), ['done', 'done', 'failed']);

  // The services write their figures every half second: wait for the last of them, the emails.
  const s = await waitFor('the figures of the three jobs and their emails', async () => {
    const x = await stats();
    return x.totals.emails.sent === 3 && x.totals.builds.failed === 1 ? x : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  assert.deepEqual(s.totals.builds, { done: 1, failed: 1, cancelled: 0, reused: 1 });
  assert.deepEqual(s.totals.emails, { sent: 3, rejected: 0, failed: 0, undeliverable: 0 });
  assert.deepEqual(s.totals.cache.image, { hit: 1, miss: 2, ratio: 1 / 3 });
  assert.equal(s.totals.build_seconds.tar?.count, 1, 'one build was timed');
  assert.ok((s.totals.build_seconds.tar?.p50 ?? 0) > 0 && s.totals.build_seconds.tar!.p95! >= s.totals.build_seconds.tar!.p50!);
  assert.deepEqual(s.rising_failures.map((f) => [f.code, f.recent, f.rising]), [['post_script_failed', 1, true]]);
  assert.ok(s.queue.wait_p95.some((v) => v !== null), 'the waits of the builds are there');
  // The frontend sampled the queue while the jobs were in it.
  assert.ok(s.queue.waiting.some((v) => v !== null && v > 0) || s.queue.building.some((v) => v !== null && v > 0), 'the queue had jobs in it');
  assert.equal((await stats('month')).totals.builds.done, 1, 'the month holds the same hour');

  const page = await laptop.context.newPage();
  const problems: string[] = [];
  const elsewhere: string[] = [];
  // The browser asks for /favicon.ico by itself, and IMG has none.
  page.on('console', (m) => { if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(`${m.text()} ${m.location().url}`); });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith(`${base}/`)) elsewhere.push(r.url()); });
  await page.setExtraHTTPHeaders({ authorization: basic });
  const res = await page.goto(`${base}/operator`);
  assert.equal(res?.status(), 200);
  await page.waitForFunction('window.imgDashboard && Object.keys(window.imgDashboard.charts).length === 7');

  // What the stacked charts draw: each series on top of the next (the tallest first). Unstacked
  // and summed over the hours, they are the counts of each outcome.
  const unstack = (chart: string) => page.evaluate(`(() => {
    const u = window.imgDashboard.charts[${JSON.stringify(chart)}];
    const out = {};
    for (let i = 1; i < u.series.length; i++) {
      const below = u.data[i + 1];
      out[u.series[i].label] = u.data[i].reduce((a, v, j) => a + v - (below ? below[j] : 0), 0);
    }
    return out;
  })()`) as Promise<Record<string, number>>;
  assert.deepEqual(await unstack('builds'), { done: 1, failed: 1, cancelled: 0, reused: 1 });
  assert.deepEqual(await unstack('emails'), { sent: 3, rejected: 0, failed: 0, undeliverable: 0 });
  const timeLabels = await page.evaluate(`window.imgDashboard.charts.buildTime.series.slice(1).map((s) => s.label)`) as string[];
  assert.deepEqual(timeLabels, ['tar p50', 'tar p95']);
  assert.match(await page.locator('#list-failures').innerText(), /post_script_failed: 1 .*rising/);
  assert.match(await page.locator('#total-cache').innerText(), /image: 1 hit, 2 miss \(33 %\)/);

  // Each chart's canvas has something painted on it.
  const painted = await page.evaluate(`[...document.querySelectorAll('.chart canvas')].map((c) => {
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
    return n;
  })`) as number[];
  assert.equal(painted.length, 7, 'seven charts');
  assert.ok(painted.every((n) => n > 0), `every canvas is painted: ${painted.join(', ')}`);

  await page.screenshot({ path: join(screenshotDir, 'dashboard-laptop.png'), fullPage: true });
  assert.deepEqual(problems, [], 'no script error and no CSP refusal');
  assert.deepEqual(elsewhere, [], 'nothing fetched from another origin');
  await page.close();
});
