// The frontend's Prometheus figures: jobs by state (read from the job index when scraped), the
// duration of each HTTP request by route pattern (never the path itself: ids would make the label
// set unbounded), and submissions by source and type. Served at /metrics to the operator only.
import type { RequestHandler, Router } from 'express';
import express from 'express';
import { jobStatuses } from '@img/shared/jobs';
import { Counter, Gauge, HTTP_SECONDS_BUCKETS, Histogram, type Registry, type TimeSeries } from '@img/shared/metrics';
import type { JobIndex } from '../jobs/job-index.ts';

export interface FrontendMetrics {
  registry: Registry;
  /** Times every request; put it before the routes. */
  timing: RequestHandler;
  submitted(source: 'kickstart' | 'template', type: string): void;
  /** A submission answered at once from an identical finished build (image-creator counts those it answers). */
  reused(type: string, arch: string): void;
}

export function frontendMetrics(registry: Registry, index: Pick<JobIndex, 'all'>, series?: TimeSeries): FrontendMetrics {
  new Gauge({
    name: 'img_jobs', help: 'Jobs IMG holds, by state', labelNames: ['state'], registers: [registry],
    collect() {
      const counts = new Map<string, number>(jobStatuses.map((s) => [s, 0]));
      for (const j of index.all()) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  const http = new Histogram({ name: 'img_http_request_duration_seconds', help: 'HTTP requests answered by the frontend, by method, route pattern and status code', labelNames: ['method', 'route', 'code'], buckets: HTTP_SECONDS_BUCKETS, registers: [registry] });
  const builds = new Counter({ name: 'img_builds_total', help: 'Builds that ended, by image type, architecture and outcome: here only those answered at submission from an identical build (reused)', labelNames: ['type', 'arch', 'outcome'], registers: [registry] });
  const cache = new Counter({ name: 'img_cache_lookups_total', help: 'Cache lookups: here, a whole image of an identical request found at submission', labelNames: ['cache', 'result'], registers: [registry] });
  const submissions = new Counter({ name: 'img_submissions_total', help: 'Jobs accepted, by what was sent (a kickstart or a template) and image type', labelNames: ['source', 'type'], registers: [registry] });
  return {
    registry,
    timing: (req, res, next) => {
      const end = http.startTimer();
      res.once('finish', () => {
        // The pattern express matched ("/job/:id"), or one label for everything unmatched.
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : req.path.startsWith('/static/') ? '/static' : 'unmatched';
        end({ method: req.method, route, code: String(res.statusCode) });
      });
      next();
    },
    submitted: (source, type) => submissions.inc({ source, type }),
    reused: (type, arch) => {
      builds.inc({ type, arch, outcome: 'reused' });
      cache.inc({ cache: 'image', result: 'hit' });
      series?.count('builds', 'reused');
      series?.count('cache', 'image_hit');
    },
  };
}

/** GET /metrics in Prometheus's text format, for the operator (Prometheus sends the operator token). */
export function metricsRoute(registry: Registry, requireOperator: RequestHandler): Router {
  const r = express.Router();
  r.get('/metrics', requireOperator, async (_req, res) => {
    res.set('content-type', registry.contentType).set('cache-control', 'no-store').send(await registry.metrics());
  });
  return r;
}
