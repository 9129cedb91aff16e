// Samples the queue's depth into the dashboard's time series: the jobs waiting (queued or being
// kickstarted) and building, from the frontend's job index, at start and then every interval.
// A bucket shows the mean of its samples, so several frontends sampling the same index agree.
import type { TimeSeries } from '@img/shared/metrics';
import type { JobIndex } from './job-index.ts';

export function sampleQueue(index: Pick<JobIndex, 'all'>, series: Pick<TimeSeries, 'sample'>, everyMs: number): () => void {
  const sample = () => {
    let waiting = 0;
    let building = 0;
    for (const j of index.all()) {
      if (j.status === 'queued' || j.status === 'kickstarting') waiting++;
      else if (j.status === 'building') building++;
    }
    series.sample('queue_depth', 'waiting', waiting);
    series.sample('queue_depth', 'building', building);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
