// Bad submissions get a 400 naming the field, and nothing is stored or queued.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import amqp from 'amqplib';
import { queues } from '@img/shared/broker';
import { connectTestDatabase, purgeAllQueues, stackEnv, startService, testEnv, uniqueEmail, type ServiceProcess } from '@img/shared/testing';
import { formSession } from '../support/http.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let frontend: ServiceProcess;

before(async () => {
  await purgeAllQueues();
  env = await stackEnv({ IMG_MAX_UPLOAD_BYTES: '4096' });
  frontend = await startService('frontend', env);
});
after(async () => {
  await frontend?.stop();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

const goodKs = '%packages\nhostname\n%end\n';

async function queued(): Promise<number> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const a = await ch.checkQueue(queues.image);
    const b = await ch.checkQueue(queues.kickstarter);
    return a.messageCount + b.messageCount;
  } finally {
    await conn.close();
  }
}

async function total(): Promise<number> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs?limit=1`);
  return ((await res.json()) as { total: number }).total;
}

/** JSON clients use the API; the form (HTML) needs the page's CSRF token. */
async function post(fields: Record<string, string | Blob>, accept = 'application/json') {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Blob) form.set(k, v, `${k}.txt`);
    else form.set(k, v);
  }
  if (accept === 'application/json') {
    const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, { method: 'POST', body: form, headers: { accept } });
    return { status: res.status, text: await res.text() };
  }
  const res = await (await formSession(env.IMG_PUBLIC_URL)).post('/submit', form);
  return { status: res.status, text: await res.text() };
}

const cases: Array<{ name: string; fields: () => Record<string, string | Blob>; field: string; says: RegExp; status?: number }> = [
  { name: 'an empty upload', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob(['']) }), field: 'ksfile', says: /empty/ },
  { name: 'an oversized upload', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob(['#'.repeat(5000)]) }), field: 'ksfile', says: /larger than the limit of 4096 bytes/, status: 413 },
  { name: 'a binary upload', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob([new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2])]) }), field: 'ksfile', says: /not a text file/ },
  { name: 'a missing email', fields: () => ({ imagetype: 'tar', ksfile: new Blob([goodKs]) }), field: 'email', says: /required/ },
  { name: 'a malformed email', fields: () => ({ email: 'someone at example', imagetype: 'tar', ksfile: new Blob([goodKs]) }), field: 'email', says: /not a valid email address/ },
  { name: 'an email with a line break', fields: () => ({ email: 'a@example.com\r\nBcc: victim@example.com', imagetype: 'tar', ksfile: new Blob([goodKs]) }), field: 'email', says: /not a valid email address/ },
  { name: 'an unknown image type', fields: () => ({ email: uniqueEmail(), imagetype: 'floppy', ksfile: new Blob([goodKs]) }), field: 'imagetype', says: /unknown image type 'floppy'/ },
  { name: 'a MeeGo hardware type', fields: () => ({ email: uniqueEmail(), imagetype: 'nand', ksfile: new Blob([goodKs]) }), field: 'imagetype', says: /MeeGo hardware format/ },
  { name: 'a kickstart with an unknown command', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob(['%packages\nhostname\n%end\nfrobnicate --now\n']) }), field: 'ksfile', says: /line 4/ },
  { name: 'an unknown platform', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', platform: 'NO_SUCH_PLATFORM' }), field: 'platform', says: /NO_SUCH_PLATFORM/ },
  { name: 'an unknown suite', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', suite: 'buster', ksfile: new Blob([goodKs]) }), field: 'suite',
    says: /unknown suite 'buster'; IMG builds trixie \(stable\), bookworm \(oldstable\), forky \(testing\), sid \(unstable\)/ },
  { name: 'an unknown architecture', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', arch: 'riscv64', ksfile: new Blob([goodKs]) }), field: 'arch',
    says: /unknown architecture 'riscv64'; IMG builds amd64 \(x86_64\), arm64 \(aarch64\)/ },
  { name: 'an unknown suite for a platform', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', suite: 'stable', platform: 'MINIMAL' }), field: 'suite', says: /unknown suite 'stable'; IMG builds trixie/ },
  { name: 'a suite the kickstart contradicts', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', suite: 'sid', ksfile: new Blob([`repo --name=debian --suite=bookworm --components=main\n${goodKs}`]) }),
    field: 'suite', says: /repo --name=debian --suite=bookworm\) builds bookworm, not sid/ },
  { name: 'a kickstart line with an unknown suite', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob([`repo --name=debian --suite=jessie --components=main\n${goodKs}`]) }),
    field: 'ksfile', says: /line 1: --suite=jessie: unknown suite 'jessie'; IMG builds trixie/ },
  { name: 'a kickstart naming two suites', fields: () => ({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob([`repo --name=a --suite=trixie --components=main\nrepo --name=b --suite=sid --components=main\n${goodKs}`]) }),
    field: 'ksfile', says: /line 2: repo --suite=sid is sid, but line 1 \(repo --suite=trixie\) is trixie/ },
];

for (const c of cases) {
  test(`${c.name} is refused with a ${c.status ?? 400} naming the field '${c.field}', and nothing is queued`, async () => {
    const before = await total();
    const { status, text } = await post(c.fields());
    assert.equal(status, c.status ?? 400, text);
    const body = JSON.parse(text) as { error: { fields: Array<{ field: string; message: string }> } };
    const hit = body.error.fields.find((f) => f.field === c.field);
    assert.ok(hit, `the error names ${c.field}: ${text}`);
    assert.match(hit.message, c.says);
    assert.equal(await total(), before, 'no job was stored');
    assert.equal(await queued(), 0, 'nothing was queued');
  });
}

/** Jobs stored for any address that contains `tag`, asked of the database itself. */
async function storedFor(tag: string): Promise<number> {
  const db = await connectTestDatabase();
  try {
    return await db.collection('image_jobs').countDocuments({ email: { $regex: tag } });
  } finally {
    await db.close();
  }
}

for (const [name, c] of [['a NUL', '\u0000'], ['a BEL', '\u0007']] as const) {
  test(`an address with ${name} is refused by the JSON API, the API's form upload and the web form, naming 'email', and nothing is stored`, async () => {
    const tag = `ctl${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const email = `${tag}${c}x@example.com`;
    const json = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ email, imagetype: 'tar', kickstart: goodKs }),
    });
    const jsonText = await json.text();
    assert.equal(json.status, 400, jsonText);
    const fields = (JSON.parse(jsonText) as { error: { fields: Array<{ field: string; message: string }> } }).error.fields;
    assert.deepEqual(fields.map((f) => f.field), ['email'], jsonText);
    assert.match(fields[0]!.message, new RegExp(`control characters, and this one contains U\\+000${c === '\u0000' ? '0' : '7'}`));

    const upload = await post({ email, imagetype: 'tar', ksfile: new Blob([goodKs]) });
    assert.equal(upload.status, 400, upload.text);
    assert.ok((JSON.parse(upload.text) as { error: { fields: Array<{ field: string }> } }).error.fields.some((f) => f.field === 'email'), upload.text);

    const form = await post({ email, imagetype: 'tar', kickstart: goodKs }, 'text/html');
    assert.equal(form.status, 400);
    assert.match(form.text, /<li data-field="email"><strong>email<\/strong>: not a valid email address: an email address cannot contain control characters/);

    assert.equal(await storedFor(tag), 0, 'no job was stored');
    assert.equal(await queued(), 0, 'nothing was queued');
  });
}

test('the form shows the errors next to the input and keeps what the person typed', async () => {
  const { status, text } = await post({ email: 'not-an-address', imagetype: 'tar', kickstart: 'bogus-command\n' }, 'text/html');
  assert.equal(status, 400);
  assert.match(text, /not-an-address/);
  assert.match(text, /line 1/);
  assert.match(text, /bogus-command/);
});

test('a valid kickstart is stored and queued once', async () => {
  const before = await total();
  const { status, text } = await post({ email: uniqueEmail(), imagetype: 'tar', ksfile: new Blob([goodKs]) });
  assert.equal(status, 201, text);
  assert.match((JSON.parse(text) as { id: string }).id, /^[0-9a-f]{32}$/);
  assert.equal(await total(), before + 1);
  assert.equal(await queued(), 1);
  await purgeAllQueues();
});
