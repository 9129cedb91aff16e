// The express app: security headers, static files, the route modules, and one way of answering
// errors. Everything arrives as arguments from main.ts.
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { imageTypes } from '@img/shared/contracts';
import { metricsRoute } from './http/metrics.ts';
import { sendError } from './http/respond.ts';
import { sameOriginWrites } from './http/same-origin.ts';
import { viewHelpers } from './http/view-helpers.ts';
import { apiRoutes } from './routes/api.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import type { RouteDeps } from './routes/deps.ts';
import { downloadRoutes } from './routes/downloads.ts';
import { jobFormRoutes } from './routes/job-forms.ts';
import { pageRoutes } from './routes/pages.ts';
import { provenanceRoutes } from './routes/provenance.ts';
import { submitRoutes } from './routes/submit.ts';

const viewsDir = fileURLToPath(new URL('./views', import.meta.url));
const publicDir = fileURLToPath(new URL('./public', import.meta.url));

export function createApp(deps: RouteDeps): express.Express {
  const { config, log } = deps;
  const https = config.IMG_PUBLIC_URL.startsWith('https:');
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.IMG_TRUST_PROXY);
  app.set('views', viewsDir);
  app.set('view engine', 'ejs');
  // Compiled templates are kept: rendering the queue must not read and compile files each time.
  app.set('view cache', true);
  // Pages and API answers are not cached (no-store); hashing every body for an ETag is wasted work.
  app.set('etag', false);
  Object.assign(app.locals, viewHelpers, { imageTypes });

  app.use(helmet({
    contentSecurityPolicy: {
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        // On plain http an upgrade would send the browser to a port with no TLS.
        'upgrade-insecure-requests': https ? [] : null,
      },
    },
    strictTransportSecurity: https,
    referrerPolicy: { policy: 'same-origin' },
  }));
  if (deps.metrics) app.use(deps.metrics.timing);
  app.use('/static', express.static(publicDir, { maxAge: '1h', index: false, dotfiles: 'deny' }));

  // Before any route reads a body: a state-changing request from another site is refused outright.
  app.use(sameOriginWrites(config.IMG_PUBLIC_URL));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  if (deps.metrics) app.use(metricsRoute(deps.metrics.registry, deps.requireOperator));
  app.use(dashboardRoutes(deps));
  app.use(pageRoutes(deps));
  app.use(submitRoutes(deps));
  app.use(jobFormRoutes(deps));
  app.use(provenanceRoutes(deps));
  app.use(downloadRoutes(deps));
  app.use(apiRoutes(deps));

  app.use((req, res) => {
    sendError(req, res, 404, 'not_found', 'There is no page here.');
  });

  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) log.error({ err: err.message, stack: err.stack, path: req.path }, 'request failed');
    const message = status === 413 ? 'the request body is too large' : status === 500 ? 'internal error' : err.message;
    sendError(req, res, status, status === 500 ? 'internal' : status === 413 ? 'too_large' : 'invalid_request', message);
  });
  return app;
}
