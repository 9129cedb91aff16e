// The job store the frontend writes through: each write that changed a job is applied to the
// in-memory index and sets the revision token, so other copies know to read the list again.
import type { Logger } from '@img/shared/logging';
import type { Phase } from '@img/shared/contracts';
import type { Job, JobFilter, JobPatch, JobStatus, JobStore, NewJob, Page } from '@img/shared/jobs';
import type { JobIndex } from './job-index.ts';
import type { MongoJobSource } from './mongo-job-source.ts';

export class TrackedJobStore implements JobStore {
  constructor(
    private readonly inner: JobStore,
    private readonly index: JobIndex,
    private readonly source: Pick<MongoJobSource, 'bump'>,
    private readonly log: Logger,
  ) {}

  private async wrote(job: Job | null, removedId?: string): Promise<void> {
    if (job) this.index.apply(job);
    if (removedId) this.index.remove(removedId);
    if (!job && !removedId) return;
    try {
      const { previous, revision } = await this.source.bump();
      this.index.acknowledge(previous, revision);
    } catch (err) {
      // The write itself is stored; other copies see it at their next full read.
      this.log.warn({ err: (err as Error).message }, 'could not set the job list revision');
    }
  }

  async create(job: NewJob): Promise<Job> {
    const created = await this.inner.create(job);
    await this.wrote(created);
    return created;
  }

  get(id: string): Promise<Job | null> {
    return this.inner.get(id);
  }

  list(filter: JobFilter, page: Page): Promise<{ jobs: Job[]; total: number }> {
    return this.inner.list(filter, page);
  }

  async transition(id: string, to: JobStatus, patch?: JobPatch): Promise<Job | null> {
    const job = await this.inner.transition(id, to, patch);
    await this.wrote(job);
    return job;
  }

  async advancePhase(id: string, phase: Phase, patch?: JobPatch): Promise<Job | null> {
    const job = await this.inner.advancePhase(id, phase, patch);
    await this.wrote(job);
    return job;
  }

  async delete(id: string): Promise<Job | null> {
    const job = await this.inner.delete(id);
    if (job) await this.wrote(null, id);
    return job;
  }
}
