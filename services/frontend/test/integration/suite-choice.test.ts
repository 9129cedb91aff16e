// The suite and architecture a request is built for, chosen at submission. The suite: the
// kickstart's repo line, else the `suite` field, else IMG_DEFAULT_SUITE; the architecture: the `arch`
// field, or a platform's own. Both are shown on the job page, the API records and the form, and sent
// to the build. No build runs: the queued messages are read off the real broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { queues } from '@img/shared/broker';
import { testEnv, uniqueEmail } from '@img/shared/testing';
import { formSession } from '../support/http.ts';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

let stack: FrontendStack | undefined;
let base: string;
before(async () => {
  // The operator's default is set to show that the setting, not a constant, decides.
  stack = await startFrontendStack('suite-choice-test', { IMG_DEFAULT_SUITE: 'bookworm' });
  base = stack.base;
});
after(async () => {
  await stack?.stop();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ks = '%packages\nhostname\n%end\n';

async function submit(fields: Json): Promise<Json> {
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail('suite'), imagetype: 'tar', ...fields }),
  });
  const body = await res.json() as Json;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

/** The message queued for the job, on image_queue or kickstarter_queue. */
async function queuedFor(id: string, queue: string): Promise<Json> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    for (let m = await ch.get(queue, { noAck: false }); m; m = await ch.get(queue, { noAck: false })) {
      const body = JSON.parse(m.content.toString()) as Json;
      if (body.id === id) return body;
    }
    throw new Error(`nothing for ${id} on ${queue}`);
  } finally {
    await conn.close();
  }
}

test('no repo line and no field: the operator\'s IMG_DEFAULT_SUITE, on the record, the public view and the build message', async () => {
  const job = await submit({ kickstart: ks });
  assert.equal(job.suite, 'bookworm');
  assert.equal((await queuedFor(job.id, queues.image)).suite, 'bookworm');
  const pub = await (await fetch(`${base}/api/v1/jobs/${job.id}`)).json() as Json;
  assert.equal(pub.suite, 'bookworm', 'the suite is no secret');
});

test('the suite field chooses when the kickstart names none; the kickstart\'s repo line otherwise', async () => {
  const sid = await submit({ kickstart: ks, suite: 'sid' });
  assert.equal(sid.suite, 'sid');
  assert.equal((await queuedFor(sid.id, queues.image)).suite, 'sid');
  const named = await submit({ kickstart: `repo --name=debian --suite=trixie --components=main\n${ks}` });
  assert.equal(named.suite, 'trixie');
  const agreeing = await submit({ kickstart: `repo --name=debian --suite=forky --components=main\n${ks}`, suite: 'forky' });
  assert.equal(agreeing.suite, 'forky');
});

test('a platform is its template\'s Suite (trixie), or the field\'s', async () => {
  const shipped = await submit({ platform: 'MINIMAL' });
  assert.equal(shipped.suite, 'trixie');
  const other = await submit({ platform: 'MINIMAL', suite: 'bookworm' });
  assert.equal(other.suite, 'bookworm');
  assert.equal((await queuedFor(other.id, queues.kickstarter)).suite, 'bookworm');
});

test('the form offers the suites, and the job page says which one the image is', async () => {
  const session = await formSession(base);
  const page = await (await fetch(`${base}/submit`)).text();
  for (const s of ['trixie', 'bookworm', 'forky', 'sid']) assert.match(page, new RegExp(`<option value="${s}"`));
  assert.match(page, /<option value="">the kickstart's or platform's, else bookworm<\/option>/);
  const form = new FormData();
  form.set('email', uniqueEmail('suite'));
  form.set('imagetype', 'tar');
  form.set('kickstart', ks);
  form.set('suite', 'sid');
  const res = await session.post('/submit', form);
  assert.equal(res.status, 303, await res.text());
  const jobPage = await (await fetch(`${base}${res.headers.get('location')}`)).text();
  assert.match(jobPage, /<dt>Debian suite<\/dt><dd class="suite">sid<\/dd>/);
});

test('the OpenAPI document describes the suite field with the suites offered', async () => {
  const doc = await (await fetch(`${base}/api/v1/openapi.json`)).json() as Json;
  const field = doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema.properties.suite;
  assert.deepEqual(field.enum, ['trixie', 'bookworm', 'forky', 'sid']);
  assert.deepEqual(doc.components.schemas.Job.properties.suite.enum, ['trixie', 'bookworm', 'forky', 'sid']);
});

/** A submission the API refuses: its status and field errors. */
async function refused(fields: Json): Promise<Json> {
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail('arch'), imagetype: 'tar', ...fields }),
  });
  const body = await res.json() as Json;
  assert.equal(res.status, 400, JSON.stringify(body));
  return body.error;
}

test('the arch field: amd64 unless asked, arm64 on the record, the public view and the build message', async () => {
  const plain = await submit({ kickstart: ks });
  assert.equal(plain.arch, 'amd64');
  assert.equal((await queuedFor(plain.id, queues.image)).arch, 'amd64');
  const arm = await submit({ kickstart: ks, arch: 'arm64' });
  assert.equal(arm.arch, 'arm64');
  assert.equal((await queuedFor(arm.id, queues.image)).arch, 'arm64');
  const pub = await (await fetch(`${base}/api/v1/jobs/${arm.id}`)).json() as Json;
  assert.equal(pub.arch, 'arm64', 'the architecture is no secret');
});

test('a platform builds its own Architecture: an -ARM64 platform is arm64, and the field may only agree', async () => {
  const platforms = await (await fetch(`${base}/api/v1/platforms`)).json() as Json;
  assert.equal(platforms.architectures['MINIMAL-ARM64'], 'arm64');
  assert.equal(platforms.architectures.MINIMAL, 'amd64');
  const arm = await submit({ platform: 'MINIMAL-ARM64' });
  assert.equal(arm.arch, 'arm64');
  assert.equal((await queuedFor(arm.id, queues.kickstarter)).arch, 'arm64');
  const agreeing = await submit({ platform: 'SERVER-ARM64', arch: 'arm64' });
  assert.equal(agreeing.arch, 'arm64');
  const clash = await refused({ platform: 'MINIMAL', arch: 'arm64' });
  assert.deepEqual(clash.fields.map((f: Json) => f.field), ['arch']);
  assert.match(clash.fields[0].message, /platform MINIMAL builds amd64, not arm64; choose an arm64 platform \(MINIMAL-ARM64, SERVER-ARM64\) or leave arch empty/);
});

test('an architecture IMG does not build is a 400 naming the field and listing those it does', async () => {
  const body = await refused({ kickstart: ks, arch: 'ppc64el' });
  assert.deepEqual(body.fields.map((f: Json) => f.field), ['arch']);
  assert.match(body.fields[0].message, /unknown architecture 'ppc64el'; IMG builds amd64 \(x86_64\), arm64 \(aarch64\)/);
});

test('the form offers the architectures and each platform\'s, and the job page says which one the image is', async () => {
  const session = await formSession(base);
  const page = await (await fetch(`${base}/submit`)).text();
  assert.match(page, /<option value="arm64" >arm64 \(aarch64, built under emulation\)<\/option>/);
  assert.match(page, /<option value="MINIMAL-ARM64" >MINIMAL-ARM64 \(arm64\)<\/option>/);
  const form = new FormData();
  form.set('email', uniqueEmail('arch'));
  form.set('imagetype', 'tar');
  form.set('kickstart', ks);
  form.set('arch', 'arm64');
  const res = await session.post('/submit', form);
  assert.equal(res.status, 303, await res.text());
  const jobPage = await (await fetch(`${base}${res.headers.get('location')}`)).text();
  assert.match(jobPage, /<dt>Architecture<\/dt><dd class="arch">arm64<\/dd>/);
  const doc = await (await fetch(`${base}/api/v1/openapi.json`)).json() as Json;
  assert.deepEqual(doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema.properties.arch.enum, ['amd64', 'arm64']);
});
