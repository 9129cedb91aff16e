// CSRF protection for the forms, as a signed double-submit token: a random value in a cookie,
// and in every form its HMAC under the server's secret. Another site can make the browser send
// the cookie but can neither read it nor forge the HMAC, so a post without the matching token is
// refused. The API takes no cookie and needs no CSRF token. Both, and the forms too, are also
// guarded by the Origin check of http/same-origin.ts, which refuses any cross-site write.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const COOKIE = 'img_csrf';
const FIELD = '_csrf';
const HEADER = 'x-csrf-token';

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function csrfProtection(opts: { secret: string; secureCookie: boolean }) {
  const sign = (nonce: string) => createHmac('sha256', opts.secret).update(nonce).digest('base64url');
  const validNonce = (v: string | undefined): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{32}$/.test(v);

  /** Makes sure the browser has a nonce and gives the templates the token for it. */
  function issue(req: Request, res: Response, next: NextFunction): void {
    let nonce = cookieValue(req, COOKIE);
    if (!validNonce(nonce)) {
      nonce = randomBytes(24).toString('base64url');
      res.append('Set-Cookie', `${COOKIE}=${nonce}; Path=/; HttpOnly; SameSite=Lax${opts.secureCookie ? '; Secure' : ''}`);
    }
    res.locals.csrfToken = sign(nonce);
    next();
  }

  /** True when the request carries the token matching its cookie (in the body or a header). */
  function valid(req: Request): boolean {
    const nonce = cookieValue(req, COOKIE);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const given = typeof body[FIELD] === 'string' ? (body[FIELD] as string) : req.get(HEADER);
    if (!validNonce(nonce) || !given) return false;
    const want = Buffer.from(sign(nonce));
    const got = Buffer.from(given);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  return { issue, valid, field: FIELD };
}

export type Csrf = ReturnType<typeof csrfProtection>;
