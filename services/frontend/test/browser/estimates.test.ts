// Estimates a person can plan by, against the real frontend, RabbitMQ, the database and a real
// browser. image-creator is played on the broker: two consumers of image_queue (so two build slots,
// which the frontend must learn from RabbitMQ, not from its setting of one) take the jobs and report
// each build as image-creator does (progress with its phase and start, then the image). The test
// checks what a person reads: each job's estimated start and finish in the API and on the queue and
// job pages, from builds of its own kind; after the job ends, the actual figures beside the estimate
// made when it was queued; and each phase's time, in the API and as a bar on the job page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { queues, routes } from '@img/shared/broker';
import { imageMessage, linkMessage, resultMessage, type BuildStart, type ImageMessage, type Phase } from '@img/shared/contracts';
import { uniqueEmail, waitFor } from '@img/shared/testing';
import { launch, screenshotDir } from '../support/browser.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

let stack: FrontendStack;
let browser: Awaited<ReturnType<typeof launch>>;
/** The builds the played image-creator holds: each keeps its slot until released. */
const taken: Array<{ msg: ImageMessage; release: () => void }> = [];

before(async () => {
  // The frontend's own setting says one slot; RabbitMQ will count two consumers.
  stack = await startFrontendStack('estimates', { IMG_BUILD_SLOTS: '1', IMG_BUILD_SLOTS_REFRESH_MS: '200' });
  for (let slot = 0; slot < 2; slot++) {
    await stack.broker.consume(queues.image, imageMessage, (msg) => new Promise<void>((release) => taken.push({ msg, release })), { prefetch: 1 });
  }
  browser = await launch('laptop');
});
after(async () => {
  for (const t of taken) t.release();
  await browser?.close();
  await stack?.stop();
});

type Json = Record<string, any>;

async function submit(type: string, tag: string): Promise<{ id: string; token: string }> {
  const kickstart = `%packages\nhostname\n%end\n%post\necho ${tag}-${Date.now()}\n%end\n`;
  const res = await fetch(`${stack.base}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail('estimates'), imagetype: type, kickstart }) });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(body));
  return { id: body.id, token: body.token };
}

async function view(id: string, token?: string): Promise<Json> {
  const res = await fetch(`${stack.base}/api/v1/jobs/${id}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return (await res.json()) as Json;
}

const takenJob = (id: string) => waitFor(`image_queue's consumer to take ${id}`, async () => taken.find((t) => t.msg.id === id), { timeoutMs: 20_000 });

async function progress(msg: ImageMessage, phase: Phase, start?: BuildStart): Promise<void> {
  await stack.broker.publish(routes.result, resultMessage, { id: msg.id, logfile: `logs/${msg.id}.log`, phase, ...(start ? { start } : {}) });
  await waitFor(`${msg.id} to reach ${phase}`, async () => (await view(msg.id)).phase === phase, { timeoutMs: 10_000 });
}

async function finish(msg: ImageMessage, durationS: number, boot: boolean): Promise<void> {
  await stack.broker.publish(routes.link, linkMessage, {
    id: msg.id, email: msg.email, imagetype: msg.imagetype, url: `${stack.base}/images/${msg.id}`, logurl: `${stack.base}/logs/${msg.id}`,
    filename: `img-${msg.id.slice(0, 12)}.${msg.imagetype}`, size: 1024, sha256: 'a'.repeat(64), duration_s: durationS,
    ...(boot ? { verified: { ok: true, detail: 'login prompt', seconds: 10 } } : {}),
  });
  await waitFor(`${msg.id} to be done`, async () => (await view(msg.id)).status === 'done', { timeoutMs: 10_000 });
  taken.find((t) => t.msg.id === msg.id)!.release();
}

/** One whole build as image-creator reports it. */
async function build(type: string, durationS: number, opts: { boot?: boolean; start?: BuildStart } = {}): Promise<string> {
  const { id } = await submit(type, `${type}-${durationS}`);
  const { msg } = await takenJob(id);
  await progress(msg, 'fetching', opts.start ?? 'scratch');
  await progress(msg, 'installing');
  await progress(msg, 'assembling');
  if (opts.boot) await progress(msg, 'verifying');
  await finish(msg, durationS, opts.boot ?? false);
  return id;
}

const seconds = (later: string, earlier: string) => (Date.parse(later) - Date.parse(earlier)) / 1000;

test('each job is estimated from its own kind over the slots RabbitMQ counts; once ended, the estimate stands beside the actual figures, with each phase as a bar', async () => {
  // History: two tars, a boot-checked raw disk, and an identical answer that took no build.
  await build('tar', 40);
  await build('tar', 50);
  await build('raw', 200, { boot: true });

  // Two consumers of image_queue: two slots, whatever the frontend's setting says.
  const queuePage = await browser.context.newPage();
  await waitFor('the queue to count two build slots', async () => {
    await queuePage.goto(`${stack.base}/queue`);
    return /2 build slots/.test(await queuePage.locator('.summary').textContent() ?? '');
  }, { timeoutMs: 15_000 });

  // Both slots busy with raw builds from a cached root; then a tar waits.
  const r2 = await submit('raw', 'r2');
  const r3 = await submit('raw', 'r3');
  for (const r of [r2, r3]) await progress((await takenJob(r.id)).msg, 'fetching', 'cached');
  const t3 = await submit('tar', 't3');

  const running = await view(r2.id);
  assert.equal(running.status, 'building');
  assert.equal(running.queue_position, undefined, 'a running build has no place in the queue');
  assert.equal(running.estimated_build_s, 200, 'no cached raw yet: the boot-checked raw builds of any start');
  assert.match(running.estimate_basis, /^raw\/amd64\/boot, 1 build/);
  assert.equal(seconds(running.estimated_finish, running.started), 200);
  assert.equal(running.estimated_start, undefined, 'its start is no estimate any more: `started` says it');

  const waiting = await view(t3.id);
  const other = await view(r3.id);
  assert.equal(waiting.queue_position, 1);
  assert.equal(waiting.estimated_build_s, 45, 'a tar is estimated from the tars (40 s, 50 s), not from the raw disk');
  assert.match(waiting.estimate_basis, /^tar\/amd64, 2 builds/);
  const firstFree = [running.estimated_finish, other.estimated_finish].sort()[0];
  assert.equal(waiting.estimated_start, firstFree, 'it starts when the first of the two running builds is expected to end');
  assert.equal(seconds(waiting.estimated_finish, waiting.estimated_start), 45);

  // The queue page and the job page say the same.
  await queuePage.goto(`${stack.base}/queue`);
  const row = queuePage.locator(`tr[data-job="${t3.id}"] .queue-spot`);
  assert.match(await row.textContent() ?? '', /#1 · starts in ~\d+ min · done in ~\d+ min/);
  assert.equal(await row.locator('time.est-finish').getAttribute('datetime'), waiting.estimated_finish);
  await queuePage.screenshot({ path: join(screenshotDir, 'estimates-queue.png'), fullPage: true });
  const jobPage = await browser.context.newPage();
  await jobPage.goto(`${stack.base}/job/${t3.id}?token=${t3.token}`);
  assert.equal(await jobPage.locator('.est-start time').first().getAttribute('datetime'), waiting.estimated_start);
  assert.equal(await jobPage.locator('.est-finish time').first().getAttribute('datetime'), waiting.estimated_finish);
  assert.match(await jobPage.locator('.est-basis').textContent() ?? '', /tar\/amd64, 2 builds/);

  // One raw ends: its slot takes the tar, which builds and ends.
  await finish((await takenJob(r2.id)).msg, 30, true);
  const t3msg = (await takenJob(t3.id)).msg;
  await progress(t3msg, 'fetching', 'scratch');
  await progress(t3msg, 'installing');
  await finish(t3msg, 12, false);

  const ended = await view(t3.id, t3.token);
  assert.equal(ended.start, 'scratch');
  assert.equal(ended.estimated_finish, waiting.estimated_finish, 'the estimate made when it was queued stays on the job');
  assert.equal(ended.estimated_start, waiting.estimated_start);
  assert.equal(ended.actual_finish, ended.finished);
  assert.equal(ended.actual_start, ended.started);
  const took = Math.max(10, seconds(ended.finished, ended.created));
  assert.equal(ended.estimate_error_pct, Math.round((Math.abs(seconds(ended.finished, ended.estimated_finish)) / took) * 1000) / 10);
  assert.deepEqual(ended.phase_times.map((p: Json) => p.phase), ['queued', 'fetching', 'installing']);
  assert.equal(ended.phase_times[0].start, ended.created, 'queued from the submission');
  ended.phase_times.forEach((p: Json, i: number) => {
    const next = ended.phase_times[i + 1]?.start ?? ended.finished;
    assert.ok(Math.abs(seconds(next, p.start) - p.seconds) <= 0.051, `${p.phase} lasts until the next phase (${p.seconds} s, to 0.1 s)`);
  });
  const total = ended.phase_times.reduce((t: number, p: Json) => t + p.seconds, 0);
  assert.ok(Math.abs(total - seconds(ended.finished, ended.created)) < 0.2, `the phases add up to the job's time (${total} s)`);
  assert.deepEqual((await view(t3.id)).phase_times, ended.phase_times, 'the timings are in the public view too');

  await jobPage.reload();
  assert.equal(await jobPage.locator('.est-finish time.actual-finish').getAttribute('datetime'), ended.finished);
  assert.match(await jobPage.locator('.est-finish').textContent() ?? '', /actual .* \(off by [\d.]+ %\)/);
  const bar = jobPage.locator('.phase-bar .phase');
  assert.deepEqual(await bar.evaluateAll((els) => els.map((e) => e.getAttribute('data-phase'))), ['queued', 'fetching', 'installing']);
  const widths = await bar.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
  const barWidth = await jobPage.locator('.phase-bar').evaluate((e) => e.getBoundingClientRect().width - 2);
  assert.ok(Math.abs(widths.reduce((a, b) => a + b, 0) - barWidth) < 3, `the phases fill the bar (${widths} of ${barWidth})`);
  await jobPage.screenshot({ path: join(screenshotDir, 'estimates-job-done.png'), fullPage: true });
  // The queue row of the ended job: the estimate beside the actual finish.
  await queuePage.goto(`${stack.base}/queue`);
  assert.match(await queuePage.locator(`tr[data-job="${t3.id}"] .queue-spot`).textContent() ?? '', /est\. \d\d:\d\d:\d\d · actual \d\d:\d\d:\d\d/);
});

test('an answer from an identical earlier build (0 s, no build) does not drag the estimates of real builds down', async () => {
  // As image-creator answers an identical request: the image at once, the link saying so.
  const same = await submit('tar', 'identical');
  const { msg } = await takenJob(same.id);
  await stack.broker.publish(routes.link, linkMessage, {
    id: msg.id, email: msg.email, imagetype: msg.imagetype, url: `${stack.base}/images/${msg.id}`, logurl: `${stack.base}/logs/${msg.id}`,
    filename: `img-${msg.id.slice(0, 12)}.tar`, size: 1024, sha256: 'b'.repeat(64), duration_s: 0, start: 'identical',
  });
  await waitFor('the identical answer to be done', async () => (await view(same.id)).status === 'done', { timeoutMs: 10_000 });
  taken.find((t) => t.msg.id === same.id)!.release();
  assert.equal((await view(same.id)).start, 'identical');

  // The tars built so far took 40, 50 and 12 s: the median stays 40 (with the 0 s answer it would be 26).
  const next = await submit('tar', 'after-identical');
  const estimate = await view(next.id);
  assert.equal(estimate.estimated_build_s, 40);
  assert.match(estimate.estimate_basis, /^tar\/amd64, 3 builds/);
});
