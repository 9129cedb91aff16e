// What image-creator counts for Prometheus: builds by outcome, their time and their wait in the
// queue, the time in each phase, failures by code, and how often a cache answers. The same figures
// (but phases) go into the dashboard's time series when one is given.
import { BUILD_SECONDS_BUCKETS, Counter, Histogram, WAIT_SECONDS_BUCKETS, type Registry, type TimeSeries } from '@img/shared/metrics';
import type { Phase } from '@img/shared/contracts';

export type BuildOutcome = 'done' | 'failed' | 'cancelled' | 'reused';

export interface BuildMetrics {
  started(labels: { type: string; arch: string }, waitedSeconds: number): void;
  finished(labels: { type: string; arch: string }, outcome: BuildOutcome, seconds?: number): void;
  failed(code: string, phase: Phase): void;
  phase(phase: Phase, seconds: number): void;
  cache(cache: 'rootfs' | 'image', hit: boolean): void;
}

export function buildMetrics(registry: Registry, series?: TimeSeries): BuildMetrics {
  const builds = new Counter({ name: 'img_builds_total', help: 'Builds that ended, by image type, architecture and outcome (reused: answered from an identical build)', labelNames: ['type', 'arch', 'outcome'], registers: [registry] });
  const duration = new Histogram({ name: 'img_build_duration_seconds', help: 'Time from the start of a build to its image, boot check included', labelNames: ['type', 'arch'], buckets: BUILD_SECONDS_BUCKETS, registers: [registry] });
  const wait = new Histogram({ name: 'img_queue_wait_seconds', help: 'Time from a job\'s submission to the start of its build', labelNames: ['type', 'arch'], buckets: WAIT_SECONDS_BUCKETS, registers: [registry] });
  const failures = new Counter({ name: 'img_build_failures_total', help: 'Failed builds, by error code and the phase they failed in', labelNames: ['code', 'phase'], registers: [registry] });
  const phases = new Histogram({ name: 'img_build_phase_duration_seconds', help: 'Time a build spent in each phase', labelNames: ['phase'], buckets: BUILD_SECONDS_BUCKETS, registers: [registry] });
  const cache = new Counter({ name: 'img_cache_lookups_total', help: 'Cache lookups: an installed root file system, or a whole image of an identical request', labelNames: ['cache', 'result'], registers: [registry] });
  return {
    started: (labels, waited) => {
      wait.observe(labels, Math.max(0, waited));
      series?.observe('queue_wait_seconds', 'all', Math.max(0, waited), WAIT_SECONDS_BUCKETS);
    },
    finished: (labels, outcome, seconds) => {
      builds.inc({ ...labels, outcome });
      series?.count('builds', outcome);
      if (seconds !== undefined && outcome === 'done') {
        duration.observe(labels, seconds);
        series?.observe('build_seconds', labels.type, seconds, BUILD_SECONDS_BUCKETS);
      }
    },
    failed: (code, phase) => {
      failures.inc({ code, phase });
      series?.count('failures', code);
    },
    phase: (phase, seconds) => phases.observe({ phase }, seconds),
    cache: (name, hit) => {
      cache.inc({ cache: name, result: hit ? 'hit' : 'miss' });
      series?.count('cache', `${name}_${hit ? 'hit' : 'miss'}`);
    },
  };
}

/** For a handler built without metrics (a test's). */
export const noBuildMetrics: BuildMetrics = { started() {}, finished() {}, failed() {}, phase() {}, cache() {} };
