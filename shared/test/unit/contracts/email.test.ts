// An email address refuses every control character, in the schema the frontend checks submissions
// with and in every message contract that carries an address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import * as contracts from '../../../src/contracts/index.ts';
import {
  cancelledMessage, emailControlCharacter, emailSchema, errorMessage, imageMessage, kickstarterMessage, linkMessage, notifyMessage,
} from '../../../src/contracts/index.ts';

const id = 'ab'.repeat(16);
const sha = 'c'.repeat(64);

/** Every C0 character, DEL, every C1 character, the line and paragraph separators. */
const controls: number[] = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  0x7f,
  ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  0x2028, 0x2029,
];
/** Invisible format characters that could disguise an address: zero-width, bidi overrides, BOM. */
const formats = [0x00ad, 0x200b, 0x200e, 0x202e, 0x2066, 0xfeff];

function hex(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

test('ordinary addresses pass, trimmed of surrounding spaces', () => {
  for (const a of ['someone@example.com', 'first.last+tag@sub.example.org', 'ünïcode@example.com']) assert.equal(emailSchema.parse(a), a);
  assert.equal(emailSchema.parse('  someone@example.com  '), 'someone@example.com');
});

test('every control character is refused wherever it stands in the address, and named', () => {
  for (const cp of [...controls, ...formats]) {
    const c = String.fromCodePoint(cp);
    for (const address of [`a${c}b@example.com`, `${c}ab@example.com`, `ab@example.com${c}`, `ab@exa${c}mple.com`]) {
      const r = emailSchema.safeParse(address);
      assert.equal(r.success, false, `${hex(cp)} in ${JSON.stringify(address)} is refused`);
      assert.ok(r.error.issues.some((i) => /control characters/.test(i.message)), `${hex(cp)}: the reason says control characters`);
      assert.equal(emailControlCharacter(address), hex(cp));
    }
  }
});

test('a lone surrogate is refused', () => {
  assert.equal(emailSchema.safeParse('a\ud800b@example.com').success, false);
  assert.equal(emailControlCharacter('a\udc00@example.com'), 'U+DC00');
});

test('a trailing newline is refused, not trimmed away', () => {
  assert.equal(emailSchema.safeParse('someone@example.com\n').success, false);
  assert.equal(emailSchema.safeParse('someone@example.com\r\nBcc: victim@example.com').success, false);
});

test('an address without a control character has none to name', () => {
  assert.equal(emailControlCharacter('someone@example.com'), undefined);
});

test('every message contract that carries an address refuses a NUL or a BEL in it', () => {
  const good = {
    kickstarter: { id, email: 'a@example.com', imagetype: 'tar', config: 'x: 1', platform: 'p' },
    image: { id, email: 'a@example.com', imagetype: 'tar', ksfile: '%packages\n%end\n' },
    link: { id, url: 'http://x/i', email: 'a@example.com', imagetype: 'tar', filename: 'i.tar', size: 1, sha256: sha, duration_s: 1, logurl: 'http://x/l' },
    error: { id, error: 'e', url: 'http://x/l', email: 'a@example.com', code: 'internal', phase: 'queued' },
    cancelled: { id, email: 'a@example.com', imagetype: 'tar', reason: 'r' },
    notify: {
      id, outcome: 'cancelled', email: 'a@example.com', seal: sha,
      job: { type: 'tar', status: 'cancelled', phase: 'queued', created: new Date(0).toISOString() },
      report: { id, email: 'a@example.com', imagetype: 'tar', reason: 'r' },
    },
  };
  const schemas = { kickstarter: kickstarterMessage, image: imageMessage, link: linkMessage, error: errorMessage, cancelled: cancelledMessage, notify: notifyMessage };
  for (const [name, schema] of Object.entries(schemas)) {
    const message = good[name as keyof typeof good];
    assert.equal(schema.safeParse(message).success, true, `${name}: the good message passes (${JSON.stringify(schema.safeParse(message).error?.issues)})`);
    for (const c of ['\u0000', '\u0007']) {
      const r = schema.safeParse({ ...message, email: `a${c}@example.com` });
      assert.equal(r.success, false, `${name} refuses ${JSON.stringify(c)}`);
      assert.ok(r.error.issues.some((i) => i.path[0] === 'email'), `${name}: the issue names email`);
    }
  }
});

test('no message contract carries an address without the email schema', () => {
  const carriers = Object.entries(contracts)
    .filter(([, v]) => v instanceof z.ZodObject && 'email' in (v as z.AnyZodObject).shape)
    .map(([name, v]) => [name, (v as z.AnyZodObject).shape.email] as const);
  assert.deepEqual(carriers.map(([name]) => name).sort(), ['cancelledMessage', 'errorMessage', 'imageMessage', 'kickstarterMessage', 'linkMessage', 'notifyMessage']);
  for (const [name, field] of carriers) assert.equal(field, emailSchema, `${name}.email is emailSchema`);
});
