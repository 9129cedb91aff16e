// The submit page checks a kickstart as it is written, in a real browser, against the real package
// index image-creator read: errors and warnings appear beside the text, by line, before Build is
// pressed, and go when the text is fixed; a refused submit shows them again; the job page of a queued
// kickstart shows where its packages were checked and its warnings. Screenshots in test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectTestDatabase, purgeAllQueues, repoRoot, stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { launch, screenshotDir } from '../support/browser.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let frontend: ServiceProcess;
let laptop: Awaited<ReturnType<typeof launch>>;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_PACKAGE_INDEX_POLL_S: '5' });
  // image-creator reads the package lists (or finds them fresh in the database), then goes: the jobs
  // this file queues are not built.
  const creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
  const db = await connectTestDatabase();
  await waitFor('the package index of trixie for amd64', async () => (await db.collection('package_indexes').countDocuments({ _id: { $in: ['trixie/main/amd64', 'trixie-updates/main/amd64', 'trixie-security/main/amd64'] } as never, read_at: { $exists: true } })) === 3, { timeoutMs: 600_000, intervalMs: 500 });
  await db.close();
  await creator.stop();
  frontend = await startService('frontend', env);
  laptop = await launch('laptop');
});

after(async () => {
  await laptop?.close();
  await frontend?.stop();
  await purgeAllQueues();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

const BAD = 'text\nreboot\n%packages\nvim-enhanced\nhostname\n%end\n';
const GOOD = 'text\nreboot\n%packages\nvim\nhostname\n%end\n';

test('the submit page shows the check beside the text before Build, by line, with the name meant, and follows the edits', async () => {
  const page = await laptop.context.newPage();
  const outside: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(env.IMG_PUBLIC_URL)) outside.push(r.url()); });
  await page.goto(`${env.IMG_PUBLIC_URL}/submit`);
  const panel = page.locator('#ks-check');
  assert.equal(await panel.isHidden(), true, 'nothing to show before any text');
  await page.locator('textarea[name="kickstart"]').fill(BAD);
  await page.waitForSelector('#ks-check[data-state="errors"]');
  const error = page.locator('#ks-check li.ks-error[data-line="4"]');
  assert.match(await error.innerText(), /^line 4: package 'vim-enhanced' is not in Debian trixie \(trixie, trixie-updates, trixie-security; main\) for amd64; did you mean 'vim'\?$/);
  assert.match(await page.locator('#ks-check li.ks-warning[data-line="1"]').innerText(), /^line 1: 'text' is ignored: it chooses the installer's interface/);
  assert.match(await page.locator('#ks-check li.ks-warning[data-line="2"]').innerText(), /^line 2: 'reboot' is ignored/);
  assert.match(await page.locator('#ks-check .ks-check-head').innerText(), /1 error: the build would be refused; 2 warnings; packages checked against Debian trixie/);
  await page.screenshot({ path: join(screenshotDir, 'submit-kickstart-check-errors.png'), fullPage: true });

  await page.locator('textarea[name="kickstart"]').fill(GOOD);
  await page.waitForSelector('#ks-check[data-state="ok"]');
  assert.equal(await page.locator('#ks-check li.ks-error').count(), 0);
  assert.equal(await page.locator('#ks-check li.ks-warning').count(), 2);
  assert.match(await page.locator('#ks-check .ks-check-head').innerText(), /^This kickstart can be built; 2 warnings; packages checked against Debian trixie/);
  await page.screenshot({ path: join(screenshotDir, 'submit-kickstart-check-ok.png'), fullPage: true });
  assert.deepEqual(outside, [], 'the page asks nothing of another origin');
  await page.close();
});

test('a refused submit shows the errors and the warnings again; an accepted one\'s job page shows the check and the warnings', async () => {
  const page = await laptop.context.newPage();
  await page.goto(`${env.IMG_PUBLIC_URL}/submit`);
  await page.locator('input[name="email"]').fill(uniqueEmail('browser-check'));
  await page.locator('select[name="imagetype"]').selectOption('tar');
  await page.locator('textarea[name="kickstart"]').fill(BAD);
  await Promise.all([page.waitForNavigation(), page.locator('form.form button[type="submit"]').click()]);
  assert.match(await page.locator('.errors li[data-line="4"]').innerText(), /ksfile: line 4: package 'vim-enhanced' is not in Debian trixie .*did you mean 'vim'/);
  assert.match(await page.locator('#submit-warnings li[data-line="1"]').innerText(), /line 1: 'text' is ignored/);

  await page.locator('textarea[name="kickstart"]').fill(GOOD);
  await page.locator('input[name="email"]').fill(uniqueEmail('browser-check'));
  await Promise.all([page.waitForURL(/\/job\/[0-9a-f]{32}\?token=/), page.locator('form.form button[type="submit"]').click()]);
  assert.match(await page.locator('dd.package-check').innerText(), /^at submission: checked against Debian trixie \(trixie, trixie-updates, trixie-security; main\) for amd64, package lists read \d{4}-/);
  const warnings = page.locator('#job-warnings li');
  assert.equal(await warnings.count(), 2);
  assert.match(await warnings.nth(0).innerText(), /^line 1: 'text' is ignored/);
  assert.match(await warnings.nth(1).innerText(), /^line 2: 'reboot' is ignored/);
  await page.screenshot({ path: join(screenshotDir, 'job-page-package-check-and-warnings.png'), fullPage: true });
  await page.close();
});
