// The operator: HTTP basic auth for people, a bearer token for scripts. Operator routes are always
// authenticated: with no credentials configured they refuse (503, saying how to configure them),
// never open. Status rule, the same for every protected route: no credential at all is a 401,
// a credential that is not the right one is a 403.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from './respond.ts';

/** Compared as hashes, so neither the length nor the content leaks through timing. */
function same(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** The request's Authorization header as scheme and value ('' when absent). */
export function authorization(req: Request): { scheme: string; value: string } {
  const header = req.get('authorization') ?? '';
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  return { scheme: scheme.toLowerCase(), value };
}

const offersQueryToken = (req: Request) => req.query?.token !== undefined;

export type OperatorCheck = 'operator' | 'none' | 'wrong';

export const OPERATOR_HOW_TO = 'set IMG_OPERATOR_TOKEN, or IMG_OPERATOR_USER and IMG_OPERATOR_PASSWORD, in the frontend\'s environment (deploy/local/up.sh generates them into its state directory)';

export function operatorAuth(opts: { user?: string; password?: string; token?: string }) {
  const configured = Boolean((opts.user && opts.password) || opts.token);

  /** Whether the request carries the operator's credentials ('none': no credential at all; a job's ?token= is one). */
  function check(req: Request): OperatorCheck {
    const { scheme, value } = authorization(req);
    if (!scheme) return offersQueryToken(req) ? 'wrong' : 'none';
    if (opts.token && scheme === 'bearer' && same(value, opts.token)) return 'operator';
    if (opts.user && opts.password && scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // Both compared, always, so a wrong user takes as long as a wrong password.
      const userOk = same(decoded.slice(0, Math.max(0, colon)), opts.user);
      const passOk = same(decoded.slice(colon + 1), opts.password);
      if (colon >= 0 && userOk && passOk) return 'operator';
    }
    return 'wrong';
  }

  /** Answers a request that is not the operator's: 503 when no operator is configured, else 401 or 403. */
  function refuse(req: Request, res: Response, result: Exclude<OperatorCheck, 'operator'>): void {
    if (!configured) {
      sendError(req, res, 503, 'operator_not_configured', `this is an operator route, and no operator credentials are configured, so it is refused: ${OPERATOR_HOW_TO}`);
      return;
    }
    if (result === 'none') {
      if (opts.user) res.setHeader('WWW-Authenticate', 'Basic realm="IMG operator", charset="UTF-8"');
      sendError(req, res, 401, 'unauthorized', 'this is an operator route: sign in with the operator\'s user name and password, or send the operator token (Authorization: Bearer …)');
      return;
    }
    sendError(req, res, 403, 'forbidden', 'these are not the operator\'s credentials');
  }

  function requireOperator(req: Request, res: Response, next: NextFunction): void {
    const result = configured ? check(req) : 'none';
    if (result === 'operator') next();
    else refuse(req, res, result);
  }

  return { configured, check: (req: Request): OperatorCheck => (configured ? check(req) : authorization(req).scheme || offersQueryToken(req) ? 'wrong' : 'none'), refuse, requireOperator };
}

export type OperatorAuth = ReturnType<typeof operatorAuth>;
