// The suite a request is built for, chosen at submission: the kickstart's repo line, else the
// `suite` field, else IMG_DEFAULT_SUITE; shown on the job page, the API records and the form, and
// sent to the build. No build runs: the queued messages are read off the real broker.
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
