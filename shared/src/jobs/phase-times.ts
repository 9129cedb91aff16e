// How long a job spent in each phase, from when the frontend first saw each one (`phase_at`): a phase
// lasts until the next phase seen, the last until the job ended (or until now, while it runs). A phase
// never reported (a link that overtook its progress, an identical request) is simply not listed.
import { phases, type Phase } from '../contracts/index.ts';
import type { Job } from './job.ts';

export interface PhaseTime {
  phase: Phase;
  start: Date;
  seconds: number;
}

export function phaseTimes(job: Pick<Job, 'created'> & Partial<Pick<Job, 'phase_at' | 'finished'>>, now = new Date()): PhaseTime[] {
  const at = job.phase_at ?? {};
  const seen: { phase: Phase; start: Date }[] = [];
  for (const phase of phases) {
    const t = phase === 'queued' ? at.queued ?? job.created : at[phase];
    if (t) seen.push({ phase, start: new Date(t) });
  }
  const end = job.finished ? new Date(job.finished) : now;
  return seen.map((s, i) => {
    const next = seen[i + 1]?.start ?? end;
    return { ...s, seconds: Math.max(0, Math.round((next.getTime() - s.start.getTime()) / 100) / 10) };
  });
}
