// What the services need from job storage. One contract test suite runs it against the real database.
import type { Phase } from '../contracts/index.ts';
import type { Job, JobStatus, NewJob } from './job.ts';

export interface JobFilter {
  status?: JobStatus | JobStatus[];
  email?: string;
}

export interface Page {
  limit: number;
  skip: number;
}

export type JobPatch = Partial<Omit<Job, 'id' | 'status' | 'history' | 'created'>>;

export interface JobStore {
  create(job: NewJob): Promise<Job>;
  get(id: string): Promise<Job | null>;
  list(filter: JobFilter, page: Page): Promise<{ jobs: Job[]; total: number }>;
  /**
   * Moves the job to `to` if, and only if, its current state allows it (see `allowedFrom`);
   * returns the updated job, or null when the job is missing or in a state that refuses the move.
   */
  transition(id: string, to: JobStatus, patch?: JobPatch): Promise<Job | null>;
  /** Records progress: enters `kickstarting`/`building` as the phase implies, never moves backwards. */
  advancePhase(id: string, phase: Phase, patch?: JobPatch): Promise<Job | null>;
  delete(id: string): Promise<Job | null>;
}
