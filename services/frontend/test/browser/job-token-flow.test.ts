// The job's token in a real browser, against the real frontend, RabbitMQ and the database. The
// build is played on the broker as image-creator reports it (log file, progress, the image), so
// this checks the page's side alone: the form leads to the job page with ?token=, the live log and
// the state come in through it without a reload, the download and the buttons keep it, and the
// page opened without it shows the public view only. Screenshots go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { LiveLogWriter } from '@img/shared/live-log';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { routes } from '@img/shared/broker';
import { linkMessage, resultMessage } from '@img/shared/contracts';
import { tempDir, testLogger, uniqueEmail, waitFor } from '@img/shared/testing';
import { launch, screenshotDir } from '../support/browser.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

let stack: FrontendStack;
let browser: Awaited<ReturnType<typeof launch>>;
const dialogs: string[] = [];

before(async () => {
  stack = await startFrontendStack('browser-token', {});
  browser = await launch('laptop');
  browser.context.on('page', (p) => p.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); }));
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

function navigations(page: Page): () => number {
  let n = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) n++;
  });
  return () => n;
}

test('from the form to the job page with its token: live log, state, download and buttons keep it; without it the public view', async () => {
  const base = stack.base;
  const page = await browser.context.newPage();
  await page.goto(`${base}/submit`);
  const email = uniqueEmail('tokenflow');
  await page.fill('input[name=email]', email);
  await page.selectOption('select[name=imagetype]', 'tar');
  await page.fill('textarea[name=kickstart]', `rootpw --plaintext browser-secret-pw\n%packages\nhostname\n%end\n# ${Date.now()}\n`);
  await Promise.all([page.waitForURL(/\/job\/[0-9a-f]{32}\?token=[A-Za-z0-9_-]{43}$/), page.click('button[type=submit]')]);
  const [, id, token] = /\/job\/([0-9a-f]{32})\?token=([A-Za-z0-9_-]{43})$/.exec(page.url())! as unknown as [string, string, string];
  const navs = navigations(page);
  assert.match(await page.locator('pre.ks').textContent() ?? '', /rootpw --plaintext \[redacted\]/, 'the kickstart is shown with its password hidden');
  assert.equal(await page.locator(`form[action="/job/${id}/cancel?token=${token}"]`).count(), 1, 'the cancel form keeps the token');

  // The build, as image-creator reports it: the log grows (live, on the job's stream), the phase
  // moves, then the log is stored and the image is there.
  const live = new LiveLogWriter(stack.broker, id, testLogger('token-flow-log'), { flushMs: 10 });
  await live.open(1);
  live.write('first line of the build\n');
  await live.flush();
  await waitFor('the first log line on the page', async () => (await page.locator('#log').textContent())?.includes('first line of the build'), { timeoutMs: 10_000 });
  await stack.broker.publish(routes.result, resultMessage, { id, logfile: `logs/${id}.log`, phase: 'installing', progress: 0.4 });
  await waitFor('the state to say building', async () => /building/.test(await page.locator('#job-state').textContent() ?? ''), { timeoutMs: 10_000 });
  live.write('second line of the build\n');
  await live.flush();
  await waitFor('the second log line', async () => (await page.locator('#log').textContent())?.includes('second line of the build'), { timeoutMs: 10_000 });
  await page.screenshot({ path: join(screenshotDir, 'job-token-building-laptop.png'), fullPage: true });

  const logs = join(stack.env.IMG_DATA_DIR, 'logs');
  await mkdir(logs, { recursive: true });
  await writeFile(join(logs, `${id}.log`), 'first line of the build\nsecond line of the build\n');
  await live.end();
  await live.remove();
  const content = Buffer.from(`the image of ${id}`);
  const dir = join(stack.env.IMG_DATA_DIR, 'images', id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'image.tar.zst'), content);
  const sha256 = createHash('sha256').update(content).digest('hex');
  await stack.broker.publish(routes.link, linkMessage, {
    id, url: `${base}/images/${id}`, email, imagetype: 'tar', filename: 'image.tar.zst', size: content.length, sha256, duration_s: 4, logurl: `${base}/job/${id}/log`,
  });
  await waitFor('the download link', async () => (await page.locator('a[href^="/images/"]').count()) > 0, { timeoutMs: 10_000 });
  assert.equal(navs(), 0, 'the page was never reloaded');
  assert.equal(await page.locator('a[download]').getAttribute('href'), `/images/${id}?token=${token}`);
  assert.equal(await page.locator('code.sum').textContent(), sha256);
  await waitFor('the live note to say finished', async () => (await page.locator('#live-note').textContent()) === 'finished', { timeoutMs: 10_000 });
  assert.equal(await page.locator(`form[action="/job/${id}/retry?token=${token}"]`).count(), 1, 'the retry form keeps the token');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[download]')]);
  const tmp = await tempDir();
  try {
    const file = join(tmp, download.suggestedFilename());
    await download.saveAs(file);
    assert.ok((await readFile(file)).equals(content));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const plain = await browser.context.newPage();
  await plain.goto(`${base}${await page.locator('a', { hasText: 'Plain-text log' }).getAttribute('href')}`);
  assert.equal(await plain.locator('body').textContent(), 'first line of the build\nsecond line of the build\n');
  await page.screenshot({ path: join(screenshotDir, 'job-token-done-laptop.png'), fullPage: true });

  // Without the token: the state, no log, no kickstart, no download, no buttons.
  const anon = await browser.context.newPage();
  await anon.goto(`${base}/job/${id}`);
  assert.match(await anon.locator('#job-state').textContent() ?? '', /done/);
  assert.match(await anon.locator('main').textContent() ?? '', /for the person who submitted it/);
  for (const sel of ['#log', 'pre.ks', 'a[href^="/images/"]', 'form']) assert.equal(await anon.locator(sel).count(), 0, `no ${sel}`);
  assert.ok(!(await anon.content()).includes(token));
  await anon.screenshot({ path: join(screenshotDir, 'job-public-laptop.png'), fullPage: true });
  assert.deepEqual(dialogs, []);
});
