// The operator's dashboard: a page of charts drawn in the browser by uPlot (served from
// node_modules here, never from a CDN), and the JSON it is drawn from. Both are the operator's.
// The page carries its figures in a JSON data block, so it draws without a second request (and
// without asking again for basic-auth credentials on another path); it refreshes from the API.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { sendError } from '../http/respond.ts';
import { dashboardStats, statsRanges } from '../jobs/dashboard-stats.ts';
import type { RouteDeps } from './deps.ts';

const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
const statsQuery = z.object({ range: z.enum(statsRanges).default('day') });

/** JSON inside <script type="application/json">: a "</script>" in a value must not end the block. */
const dataBlock = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function dashboardRoutes(deps: RouteDeps): Router {
  const r = Router();
  const { db, requireOperator } = deps;
  r.use('/static/vendor/uplot', express.static(uplotDir, { maxAge: '1h', index: false, dotfiles: 'deny' }));
  if (!db) return r;

  const range = (req: express.Request, res: express.Response) => {
    const q = statsQuery.safeParse(req.query);
    if (!q.success) sendError(req, res, 400, 'invalid_request', `range: one of ${statsRanges.join(', ')}`);
    return q.success ? q.data.range : undefined;
  };

  r.get('/api/v1/operator/stats', requireOperator, async (req, res) => {
    const which = range(req, res);
    if (!which) return;
    res.set('cache-control', 'no-store').json(await dashboardStats(db, which));
  });

  r.get('/operator', requireOperator, async (req, res) => {
    const which = range(req, res);
    if (!which) return;
    const stats = await dashboardStats(db, which);
    res.set('cache-control', 'no-store').render('dashboard', {
      title: 'Dashboard', range: which, ranges: statsRanges, statsJson: dataBlock(stats),
      styles: ['/static/vendor/uplot/uPlot.min.css'], scripts: ['/static/vendor/uplot/uPlot.iife.min.js', '/static/dashboard.js'],
    });
  });
  return r;
}
