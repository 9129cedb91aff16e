// One webhook post: to an address checked just before connecting (the connection is pinned to it,
// so a name that rebinds between the check and the connect cannot lead elsewhere), cut off after a
// timeout, and following a redirect only to a URL that passes every check again.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { type AddressPolicy } from './address-policy.ts';
import { callbackUrlProblem } from './callback-url.ts';

export class WebhookSendError extends Error {
  /** `refused`: the URL or its address is not allowed; trying again cannot help. */
  constructor(message: string, readonly status?: number, readonly refused = false) {
    super(message);
  }
}

export interface PostOptions {
  policy: AddressPolicy;
  hosts: string[];
  timeoutMs: number;
  maxRedirects?: number;
}

/** Posts `body`; resolves with the receiver's 2xx status, throws WebhookSendError otherwise. */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, opts: PostOptions): Promise<number> {
  let target = url;
  for (let hop = 0; ; hop++) {
    const problem = callbackUrlProblem(target, opts.hosts);
    if (problem) throw new WebhookSendError(`the callback URL ${problem}`, undefined, true);
    const u = new URL(target);
    const [pinned] = await opts.policy.resolve(u.hostname).catch((err: Error) => {
      throw new WebhookSendError(`refused: ${err.message}`, undefined, true);
    });
    const res = await send(u, pinned!, body, headers, opts.timeoutMs);
    res.resume();
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 200 && status < 300) return status;
    if (status >= 300 && status < 400 && location) {
      if (hop >= (opts.maxRedirects ?? 3)) throw new WebhookSendError(`more than ${opts.maxRedirects ?? 3} redirects`, status);
      target = new URL(location, u).toString();
      continue;
    }
    throw new WebhookSendError(`the receiver answered ${status}`, status);
  }
}

function send(u: URL, pinned: { address: string; family: 4 | 6 }, body: string, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else cb(null, pinned.address, pinned.family);
  };
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, {
      method: 'POST', lookup, timeout: timeoutMs,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'IMG-webhooks' },
    }, resolve);
    // The whole exchange, not only an idle socket, is bounded: a receiver that trickles is cut off.
    const timer = setTimeout(() => req.destroy(new WebhookSendError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('response', () => clearTimeout(timer));
    req.once('timeout', () => req.destroy(new WebhookSendError(`no answer within ${timeoutMs} ms`)));
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof WebhookSendError ? err : new WebhookSendError(err.message));
    });
    req.end(body);
  });
}
