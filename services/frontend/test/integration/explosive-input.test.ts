// Submissions built to exhaust the frontend: a few hundred bytes of YAML aliases that would expand
// to millions of nodes, a megabyte of commas, a root partition of a terabyte. Each gets a 400 that
// says what is wrong, and the frontend answers the next request as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail } from '@img/shared/testing';
import { startFrontendStack, type FrontendStack } from '../support/stack.ts';

let stack: FrontendStack | undefined;
let base: string;
before(async () => {
  // A limit of its own, so the test shows the setting reaches the check (the default is 65536).
  stack = await startFrontendStack('explosive-input-test', { IMG_MAX_DISK_MB: '4096' });
  base = stack.base;
});
after(async () => {
  await stack?.stop();
});

/** Seven levels of nine aliases each: 4.7 million nodes once expanded. */
function aliasBomb(): string {
  const lines = ['a0: &a0 [x,x,x,x,x,x,x,x,x]'];
  for (let i = 1; i <= 7; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

interface Refusal { status: number; error: { code: string; message: string; fields: { field: string; message: string; line?: number }[] } }

async function submit(fields: Record<string, string>): Promise<Refusal> {
  const form = new FormData();
  form.set('email', uniqueEmail('explosive'));
  form.set('imagetype', 'tar');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const res = await fetch(`${base}/api/v1/jobs`, { method: 'POST', body: form, headers: { accept: 'application/json' } });
  return { ...((await res.json()) as Omit<Refusal, 'status'>), status: res.status };
}

/** The fact that matters after each: the frontend still serves, and says the same as before. */
async function stillAnswers(): Promise<void> {
  const res = await fetch(`${base}/api/v1/jobs?limit=1`);
  assert.equal(res.status, 200);
  assert.equal(typeof ((await res.json()) as { total: unknown }).total, 'number');
}

test('a 400-byte overlay of nested YAML aliases is refused as an overlay with aliases, naming the line', async () => {
  const bomb = aliasBomb();
  assert.ok(bomb.length < 420);
  const r = await submit({ platform: 'MINIMAL', overlay: bomb });
  assert.equal(r.status, 400, JSON.stringify(r));
  assert.equal(r.error.code, 'invalid_request');
  assert.deepEqual(r.error.fields, [{ field: 'overlay', line: 2, message: 'overlay:2: YAML aliases (*a0) are not allowed in an overlay: write the values out' }]);
  await stillAnswers();
});

test('the same aliases in an uploaded template are refused, naming the template\'s file and line', async () => {
  const form = new FormData();
  form.set('email', uniqueEmail('explosive'));
  form.set('imagetype', 'tar');
  form.set('platform', 'BOX');
  form.set('template', new Blob([`BOX:\n  Repos: [debian]\n${aliasBomb()}`]), 'bomb.yaml');
  const res = await fetch(`${base}/api/v1/jobs`, { method: 'POST', body: form, headers: { accept: 'application/json' } });
  const r = (await res.json()) as Omit<Refusal, 'status'>;
  assert.equal(res.status, 400, JSON.stringify(r));
  assert.equal(r.error.fields.length, 1, JSON.stringify(r.error.fields));
  assert.match(r.error.fields[0]?.message ?? '', /^bomb\.yaml:\d+: the YAML has more than 100000 nodes once the aliases on this line are expanded: the limit is 100000$/);
  await stillAnswers();
});

test('a megabyte overlay of commas is refused naming the overlay\'s item limit', async () => {
  const r = await submit({ platform: 'MINIMAL', overlay: ','.repeat(1_000_000) });
  assert.equal(r.status, 400, JSON.stringify(r).slice(0, 500));
  assert.deepEqual(r.error.fields, [{ field: 'overlay', message: 'overlay: the overlay has more than 5000 items: the limit is 5000' }]);
  await stillAnswers();
  // The JSON API takes overlays up to 64 KiB: as many commas are refused by the same item limit.
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('explosive'), imagetype: 'tar', platform: 'MINIMAL', overlay: ','.repeat(64 * 1024) }),
  });
  const json = (await res.json()) as Omit<Refusal, 'status'>;
  assert.equal(res.status, 400, JSON.stringify(json));
  assert.deepEqual(json.error.fields, [{ field: 'overlay', message: 'overlay: the overlay has more than 5000 items: the limit is 5000' }]);
  await stillAnswers();
});

test('overlays nested without end are refused naming the depth limit', async () => {
  const r = await submit({ platform: 'MINIMAL', overlay: `ExtraPackages: ${'['.repeat(500_000)}` });
  assert.equal(r.status, 400, JSON.stringify(r).slice(0, 500));
  assert.deepEqual(r.error.fields, [{ field: 'overlay', line: 1, message: 'overlay:1: the YAML is nested more than 64 deep: the limit is 64' }]);
  await stillAnswers();
});

test('part / --size above IMG_MAX_DISK_MB is refused naming the line and the limit; at the limit it is taken', async () => {
  const ks = (size: number) => `lang C.UTF-8\npart / --size ${size}\n%packages\nhostname\n%end\n`;
  const r = await submit({ kickstart: ks(1048576) });
  assert.equal(r.status, 400, JSON.stringify(r));
  assert.deepEqual(r.error.fields, [{ field: 'ksfile', line: 2, message: "line 2: part / --size 1048576 is above this service's limit of 4096 MiB" }]);
  const t = await submit({ platform: 'MINIMAL', overlay: 'PartSize: 8192' });
  assert.equal(t.status, 400, JSON.stringify(t));
  assert.deepEqual(t.error.fields, [{ field: 'overlay', line: 1, message: "overlay:1: PartSize 8192 is above this service's limit of 4096 MiB" }]);
  const ok = await submit({ kickstart: ks(4096) });
  assert.equal(ok.status, 201, JSON.stringify(ok));
  // Not left waiting: the test database is shared, and pending jobs count against this client.
  const { id, token } = ok as unknown as { id: string; token: string };
  const cancel = await fetch(`${base}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(cancel.status, 200, await cancel.text());
});
