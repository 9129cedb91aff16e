// Optional auth for the operator's views (clear, delete): HTTP basic for people, a bearer token
// for scripts. Off when neither is configured; when either is, requests without it get a 401.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from './respond.ts';

/** Compared as hashes, so neither the length nor the content leaks through timing. */
function same(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export function operatorAuth(opts: { user?: string; password?: string; token?: string }) {
  const enabled = Boolean((opts.user && opts.password) || opts.token);
  return function requireOperator(req: Request, res: Response, next: NextFunction): void {
    if (!enabled) {
      next();
      return;
    }
    const header = req.get('authorization') ?? '';
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    if (opts.token && /^bearer$/i.test(scheme) && same(value, opts.token)) {
      next();
      return;
    }
    if (opts.user && opts.password && /^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // Both compared, always, so a wrong user takes as long as a wrong password.
      const userOk = same(decoded.slice(0, Math.max(0, colon)), opts.user);
      const passOk = same(decoded.slice(colon + 1), opts.password);
      if (colon >= 0 && userOk && passOk) {
        next();
        return;
      }
    }
    if (opts.user) res.setHeader('WWW-Authenticate', 'Basic realm="IMG operator", charset="UTF-8"');
    sendError(req, res, 401, 'unauthorized', 'this is an operator view: sign in with the operator\'s user name and password, or send the operator token');
  };
}
