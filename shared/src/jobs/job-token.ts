// A job's secret token: HMAC-SHA256 of the job id under IMG_TOKEN_SECRET, base64url. Stateless,
// so the frontend (which checks it) and the notifier (which puts it into email links) compute the
// same token from the id alone, and no message or record has to carry it. Without the secret the
// token cannot be derived from the id, which is public (the queue lists it).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

const PREFIX = 'img-job-token:';
export const TOKEN_SECRET_MIN_LENGTH = 32;

/** The IMG_TOKEN_SECRET setting, for the config schemas of the services that use tokens. */
export const tokenSecretSetting = z.preprocess((v) => (v === '' ? undefined : v), z.string({
  required_error: `required: a random secret of at least ${TOKEN_SECRET_MIN_LENGTH} characters that signs the job tokens, the same for the frontend and the notifier (for example: openssl rand -base64 48; deploy/local/up.sh keeps one in $IMG_STATE_DIR/token-secret)`,
}).min(TOKEN_SECRET_MIN_LENGTH, `too short: at least ${TOKEN_SECRET_MIN_LENGTH} characters (for example: openssl rand -base64 48)`));

export function jobToken(secret: string, jobId: string): string {
  return createHmac('sha256', secret).update(PREFIX + jobId).digest('base64url');
}

/** Whether `given` is the job's token; compared in constant time. */
export function isJobToken(secret: string, jobId: string, given: string | undefined): boolean {
  if (!given) return false;
  const want = Buffer.from(jobToken(secret, jobId));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The URL with `token=` added to its query (replacing one already there). */
export function withJobToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
}
