// State-changing requests (every method but GET, HEAD and OPTIONS, for the API and the forms alike)
// are taken only from this site: a request whose Origin is another origin than IMG_PUBLIC_URL's,
// or that the browser marks `Sec-Fetch-Site: cross-site`, is refused before its body is read. A
// browser always sends Origin on such a request, so a form or script on another site cannot act
// with the visitor's cookies or saved credentials; scripts, curl and the img command send no
// Origin and are not affected. The forms' CSRF token stays as a second check.
import type { NextFunction, Request, Response } from 'express';
import { refuseBody } from './respond.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sameOriginWrites(publicUrl: string) {
  const origin = new URL(publicUrl).origin;
  return function sameOrigin(req: Request, res: Response, next: NextFunction): void {
    if (SAFE.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site');
    const from = req.get('origin');
    if (site === 'cross-site' || (from !== undefined && from !== origin)) {
      const said = from !== undefined ? `Origin ${JSON.stringify(from.slice(0, 100))}` : 'Sec-Fetch-Site: cross-site';
      refuseBody(req, res, 403, 'cross_origin',
        `refused: this request came from another site (${said}); IMG takes changes only from its own pages at ${origin}, or from clients that send no Origin (curl, scripts, the img command)`);
      return;
    }
    next();
  };
}
