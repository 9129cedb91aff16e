// A submission's `callback_url`: where IMG posts the job's outcome. Checked at submission (a 400
// naming the field) and again at every send (see address-policy.ts).
import type { AddressPolicy } from './address-policy.ts';
import { WebhookAddressRefused } from './address-policy.ts';

export const MAX_CALLBACK_URL_LENGTH = 2048;

export interface CallbackRules {
  /**
   * The operator's allow-list of hosts (IMG_WEBHOOK_HOSTS): exact names or addresses,
   * `*.example.org` for a domain's hosts, `*` for any host. Empty: webhooks are off.
   */
  hosts: string[];
  policy: AddressPolicy;
}

export function hostAllowed(host: string, hosts: string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return hosts.some((rule) => {
    const r = rule.toLowerCase().trim();
    if (r === '*') return true;
    if (r.startsWith('*.')) return h.endsWith(r.slice(1)) && h.length > r.length - 1;
    return h === r;
  });
}

/** The URL's own problems, without resolving it; undefined when it is well formed and allowed. */
export function callbackUrlProblem(text: string, hosts: string[]): string | undefined {
  if (hosts.length === 0) return 'this IMG does not send webhooks (its operator has not set IMG_WEBHOOK_HOSTS)';
  if (text.length > MAX_CALLBACK_URL_LENGTH) return `is longer than ${MAX_CALLBACK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http or https, not ${url.protocol.replace(/:$/, '')}`;
  if (url.username || url.password) return 'must not carry a user name or password';
  if (!hostAllowed(url.hostname, hosts)) return `host ${url.hostname} is not on this IMG's allow-list for webhooks`;
  return undefined;
}

/** Checks a callback URL as a submission is taken: the form, the allow-list, and where the name leads now. */
export async function checkCallbackUrl(text: string, rules: CallbackRules): Promise<string | undefined> {
  const problem = callbackUrlProblem(text, rules.hosts);
  if (problem) return problem;
  try {
    await rules.policy.resolve(new URL(text).hostname);
  } catch (err) {
    if (err instanceof WebhookAddressRefused) return `is refused: ${err.message}`;
    throw err;
  }
  return undefined;
}
