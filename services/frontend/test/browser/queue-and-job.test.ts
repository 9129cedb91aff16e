// The person's view in a real browser, with the real services: submit the form, watch the job in
// the queue and its log on the job page change without a reload, download the image; and a broken
// kickstart answered on the form with its line. Screenshots go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { launch, screenshotDir } from '../support/browser.ts';
import { wipeJobs } from '../support/http.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let laptop: Awaited<ReturnType<typeof launch>>;
let phone: Awaited<ReturnType<typeof launch>>;
const dialogs: string[] = [];

before(async () => {
  // Idempotent and quick when the image is there; a builder image named in the environment is used as it is.
  if (!process.env.IMG_BUILDER_IMAGE) execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  await wipeJobs();
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600' });
  for (const name of ['image-creator', 'notifier', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  laptop = await launch('laptop');
  phone = await launch('phone');
  for (const ctx of [laptop.context, phone.context]) ctx.on('page', (p) => p.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); }));
});

after(async () => {
  await laptop?.close();
  await phone?.close();
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

/** Counts the page's own navigations: a live update must not be one. */
function navigations(page: Page): () => number {
  let n = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) n++;
  });
  return () => n;
}

async function shoot(ctx: BrowserContext, path: string, file: string): Promise<void> {
  const page = await ctx.newPage();
  await page.goto(`${env.IMG_PUBLIC_URL}${path}`);
  await page.screenshot({ path: join(screenshotDir, file), fullPage: true });
  await page.close();
}

test('a kickstart sent with the form: the queue shows it move through its phases and the log grows, without a reload; the image downloads', async () => {
  const base = env.IMG_PUBLIC_URL;
  const queue = await laptop.context.newPage();
  const queueNavs = navigations(queue);
  await queue.goto(`${base}/queue`);
  // Record every state the rows take, as the live updates replace them.
  // Given as source text: the test's own functions are rewritten by its TypeScript loader.
  await queue.evaluate(`(() => {
    window.seen = {};
    const record = () => {
      for (const tr of document.querySelectorAll('tr[data-job]')) {
        const list = (window.seen[tr.dataset.job] ??= []);
        if (list.at(-1) !== tr.dataset.status) list.push(tr.dataset.status);
      }
    };
    new MutationObserver(record).observe(document.getElementById('queue-body'), { childList: true, subtree: true });
    record();
  })()`);

  const form = await laptop.context.newPage();
  await form.goto(`${base}/submit`);
  const email = uniqueEmail('browser');
  await form.fill('input[name=email]', email);
  await form.selectOption('select[name=imagetype]', 'tar');
  // The build prints a step a second until the test has seen the page's log grow, then the test lets
  // it go on (a file it puts in the build's root); a build never let go fails after 15 minutes.
  const ks = ['%packages', 'hostname', '%end', '%post', 'echo "<img src=x onerror=alert(1)>" > /etc/img-xss',
    'i=0', 'until [ -e /tmp/img-test-go-on ]; do i=$((i+1)); echo "step $i"; [ "$i" -lt 900 ] || exit 1; sleep 1; done', 'rm -f /tmp/img-test-go-on', '%end', ''].join('\n');
  await form.setInputFiles('input[name=ksfile]', { name: 'browser.ks', mimeType: 'text/plain', buffer: Buffer.from(ks) });
  // The job page opens with the job's token in its address; its links, forms and live log keep it.
  await Promise.all([form.waitForURL(/\/job\/[0-9a-f]{32}\?token=[A-Za-z0-9_-]{43}$/), form.click('button[type=submit]')]);
  const [, id, token] = /\/job\/([0-9a-f]{32})\?token=([A-Za-z0-9_-]{43})$/.exec(form.url())! as unknown as [string, string, string];
  const owner = { headers: { authorization: `Bearer ${token}` } };
  const jobNavs = navigations(form);

  // The job page: the log grows while the build runs, step after step, without a reload.
  const lengths: number[] = [];
  const logLength = async () => {
    const len = await form.evaluate('document.getElementById("log").textContent.length') as number;
    if (lengths.at(-1) !== len) lengths.push(len);
    return len;
  };
  await waitFor('the job page\'s log to show the build\'s steps arriving', async () => {
    await logLength();
    return lengths.filter((l) => l > 0).length >= 3 && /step 2/.test(await form.locator('#log').textContent() ?? '');
  }, { timeoutMs: 10 * 60_000, intervalMs: 250 });
  assert.equal(await form.locator('.status-building').count() > 0, true, 'the job page says it is building');
  await form.screenshot({ path: join(screenshotDir, 'job-building-laptop.png'), fullPage: true });
  // Let the build go on: a file in the image's root, where its %post looks.
  const container = execFileSync('docker', ['ps', '-q', '--filter', `label=img.job=${id}`], { encoding: 'utf8' }).trim();
  assert.ok(container, `the build of ${id} runs in a container`);
  execFileSync('docker', ['exec', '-u', '0', container, 'touch', '/work/rootfs/tmp/img-test-go-on']);
  await waitFor('the job page to show the download', async () => {
    await logLength();
    return (await form.locator('a[href^="/images/"]').count()) > 0;
  }, { timeoutMs: 10 * 60_000, intervalMs: 250 });
  assert.ok(lengths.length >= 4, `the log grew in steps: ${lengths.join(' → ')}`);
  assert.ok(lengths.every((l, i) => i === 0 || l > lengths[i - 1]!), 'the log only grows');
  assert.equal(jobNavs(), 0, 'the job page was not reloaded');
  const logText = await form.locator('#log').textContent();
  assert.match(logText ?? '', /step 2/);
  assert.match(logText ?? '', /<img src=x onerror=alert\(1\)>/, 'markup in the log is shown as text');
  assert.match(await form.locator('#job-state').textContent() ?? '', /done/);

  // The queue page saw the job arrive and move on, by itself.
  const seen = await waitFor('the queue row to reach done', async () => {
    const s = await queue.evaluate(`window.seen[${JSON.stringify(id)}]`) as string[] | undefined;
    return s?.includes('done') ? s : undefined;
  }, { timeoutMs: 10_000 });
  assert.ok(seen.includes('building'), `the queue showed ${seen.join(' → ')}`);
  assert.ok(seen.indexOf('building') < seen.indexOf('done'));
  assert.equal(queueNavs(), 1, 'the queue page was loaded once and never reloaded');
  await queue.screenshot({ path: join(screenshotDir, 'queue-laptop.png'), fullPage: true });

  // The download, through the browser, matches the checksum on the page.
  const api = (await (await fetch(`${base}/api/v1/jobs/${id}`, owner)).json()) as { sha256: string; size: number };
  assert.equal(await form.locator('a[download][href^="/images/"]').getAttribute('href'), `/images/${id}?token=${token}`);
  const shown = await form.locator('code.sum').textContent();
  assert.equal(shown, api.sha256);
  const [download] = await Promise.all([form.waitForEvent('download'), form.click('a[download][href^="/images/"]')]);
  const dir = await tempDir();
  try {
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    const body = await readFile(file);
    assert.equal(body.length, api.size);
    assert.equal(createHash('sha256').update(body).digest('hex'), api.sha256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // The email went out, and the job page says so.
  await waitFor('the email to be recorded', async () => {
    const j = (await (await fetch(`${base}/api/v1/jobs/${id}`, owner)).json()) as { email_status?: { state: string } };
    return j.email_status?.state === 'sent';
  }, { timeoutMs: 60_000 });
  await form.reload();
  assert.match(await form.locator('.facts:not(.estimates)').textContent() ?? '', /email sent/);
  await form.screenshot({ path: join(screenshotDir, 'job-done-laptop.png'), fullPage: true });
  await shoot(phone.context, `/job/${id}?token=${token}`, 'job-done-phone.png');
  await shoot(phone.context, `/job/${id}`, 'job-public-phone.png');
  await shoot(phone.context, '/queue', 'queue-phone.png');
  await shoot(phone.context, '/', 'index-phone.png');

  // A busy queue: one building, the rest waiting with their places and estimated starts.
  const more: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < 3; i++) {
    // Each a request of its own: an identical one would be answered from the finished build at once.
    const busyKs = `${ks}%post\necho busy-${i}-${Date.now()} > /etc/busy\n%end\n`;
    const res = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail('busy'), imagetype: 'tar', kickstart: busyKs }) });
    more.push((await res.json()) as { id: string; token: string });
  }
  await waitFor('a second build to start', async () => (await queue.locator('tr[data-status=building]').count()) > 0, { timeoutMs: 60_000 });
  assert.match(await queue.locator(`tr[data-job="${more[2]!.id}"] .queue-spot`).textContent() ?? '', /#2 · starts in/);
  await queue.screenshot({ path: join(screenshotDir, 'queue-busy-laptop.png'), fullPage: true });
  await shoot(phone.context, '/queue', 'queue-busy-phone.png');
  for (const m of more) await fetch(`${base}/api/v1/jobs/${m.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${m.token}` } });
  await waitFor('the queue to show them cancelled', async () => (await queue.locator('tr[data-status=cancelled]').count()) === 3, { timeoutMs: 10_000 });
  assert.equal(queueNavs(), 1, 'still never reloaded');
  assert.deepEqual(dialogs, [], 'no script from the job ran');
});

test('a broken kickstart is answered on the form: the error names its line, and the input is kept', async () => {
  const page = await laptop.context.newPage();
  const before = ((await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs?limit=1`)).json()) as { total: number }).total;
  await page.goto(`${env.IMG_PUBLIC_URL}/submit`);
  await page.fill('input[name=email]', uniqueEmail('broken'));
  const ks = 'lang en_US.UTF-8\ntimezone UTC\nfrobnicate --now\n%packages\nhostname\n%end\n';
  await page.fill('textarea[name=kickstart]', ks);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  const errors = page.locator('.errors li[data-field=ksfile]');
  assert.equal(await errors.count(), 1);
  assert.equal(await errors.getAttribute('data-line'), '3');
  assert.match(await errors.textContent() ?? '', /line 3/);
  assert.match(await page.locator('fieldset .field-error').first().textContent() ?? '', /line 3/);
  assert.equal(await page.inputValue('textarea[name=kickstart]'), ks);
  assert.match(await page.inputValue('input[name=email]'), /^broken-/);
  await page.screenshot({ path: join(screenshotDir, 'submit-error-laptop.png'), fullPage: true });
  const after = ((await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs?limit=1`)).json()) as { total: number }).total;
  assert.equal(after, before, 'nothing was queued');
  assert.deepEqual(dialogs, []);
});
