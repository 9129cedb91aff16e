// Seals on the messages that make IMG act for a job: an HMAC-SHA256 under a key derived from
// IMG_TOKEN_SECRET, one key per purpose. The frontend owns the job records; instead of letting the
// other services read them, it seals what it vouches for:
// - `job`: a build's identity (id, email, image type) on kickstarter_queue and image_queue. The
//   kickstarter forwards it; image-creator builds only what carries it.
// - `notify`: the whole notify message (every field but the seal): the notifier mails and posts
//   only what the frontend checked against the job's record.
// A service that holds the secret can seal; whoever can only publish to the broker cannot.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SealPurpose = 'job' | 'notify';

function key(secret: string, purpose: SealPurpose): Buffer {
  return createHmac('sha256', secret).update(`img-message-seal:${purpose}`).digest();
}

/** JSON with object keys in sorted order at every depth, undefined left out: the same text on both sides. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

export function seal(secret: string, purpose: SealPurpose, content: unknown): string {
  return createHmac('sha256', key(secret, purpose)).update(canonicalJson(content)).digest('hex');
}

export function isSealed(secret: string, purpose: SealPurpose, content: unknown, given: string | undefined): boolean {
  if (!given || !/^[0-9a-f]{64}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(seal(secret, purpose, content), 'hex'), Buffer.from(given, 'hex'));
}

/** What the `job` seal covers: who the build is for. The address is compared as the services compare it. */
export function jobIdentity(msg: { id: string; email: string; imagetype: string }): { id: string; email: string; imagetype: string } {
  return { id: msg.id, email: msg.email.trim().toLowerCase(), imagetype: msg.imagetype };
}

export const sealJob = (secret: string, msg: { id: string; email: string; imagetype: string }) => seal(secret, 'job', jobIdentity(msg));
export const isSealedJob = (secret: string, msg: { id: string; email: string; imagetype: string; seal?: string | undefined }) =>
  isSealed(secret, 'job', jobIdentity(msg), msg.seal);

/** The notify message's seal covers every field but the seal itself. */
export function sealNotify(secret: string, msg: object): string {
  const { seal: _omit, ...rest } = msg as Record<string, unknown>;
  return seal(secret, 'notify', rest);
}
export function isSealedNotify(secret: string, msg: object): boolean {
  const { seal: given, ...rest } = msg as Record<string, unknown>;
  return isSealed(secret, 'notify', rest, typeof given === 'string' ? given : undefined);
}
