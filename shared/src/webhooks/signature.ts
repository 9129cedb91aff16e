// Webhook signatures after the Standard Webhooks convention: the headers webhook-id,
// webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256 of "id.timestamp.body"
// under the secret's key). Each job has its own secret, derived from IMG_TOKEN_SECRET, so nothing
// secret is stored and the frontend and the notifier agree on it without talking.
import { createHmac } from 'node:crypto';

/** The job's signing secret, in the convention's `whsec_<base64 key>` form; returned at submission. */
export function webhookSecret(tokenSecret: string, jobId: string): string {
  return `whsec_${createHmac('sha256', tokenSecret).update(`webhook:${jobId}`).digest('base64')}`;
}

export function signatureHeaders(secret: string, msgId: string, body: string, now = Date.now()): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const timestamp = String(Math.floor(now / 1000));
  const signature = createHmac('sha256', key).update(`${msgId}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': msgId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
