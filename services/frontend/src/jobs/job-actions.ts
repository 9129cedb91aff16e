// What a person or an operator can do to jobs, for the pages and the API alike: queue a checked
// submission, cancel, retry, delete, clear the finished ones.
import { routes, type Broker } from '@img/shared/broker';
import { CONTRACT_VERSION, cancelMessage, imageMessage, kickstarterMessage, linkMessage } from '@img/shared/contracts';
import { requestHash, reuseImage, type BuildRegistry } from '@img/shared/builds';
import { parseKickstart } from '@img/shared/kickstart';
import { sealJob, terminalStatuses, type Job, type JobStore, type NewJob } from '@img/shared/jobs';
import type { Storage } from '@img/shared/storage';
import type { Logger } from '@img/shared/logging';
import type { JobIndex } from './job-index.ts';
import { removeJobFiles } from './job-files.ts';
import type { FairShare } from './fair-share.ts';
import { publishNotice } from './notify.ts';
import type { QueueEstimator } from './queue-estimate.ts';
import { packageSetKey } from './package-set.ts';

export type ActionResult<T> = { ok: true; value: T } | { ok: false; status: 404 | 409 | 429 | 503; code: string; message: string };

const fail = (status: 404 | 409 | 429 | 503, code: string, message: string) => ({ ok: false as const, status, code, message });
const notFound = () => fail(404, 'not_found', 'there is no job with this id; it may have been deleted');

export interface JobActionDeps {
  store: JobStore;
  index: JobIndex;
  broker: Pick<Broker, 'publish'>;
  log: Logger;
  /** The estimate a new job gets is kept on it, to set beside the actual figures once it has ended. */
  estimator?: Pick<QueueEstimator, 'forNew'>;
  /** Where images and logs are kept (the files of a deleted job go from there). */
  storage: Storage;
  /** IMG_TOKEN_SECRET: seals the build messages and the notify messages. */
  tokenSecret: string;
  /** Identical kickstart requests are answered at once from a finished build's image. */
  reuse?: { registry: BuildRegistry; builderVersion: string; publicUrl: string };
  /** The per-submitter cap on pending jobs (by email and client address). */
  share?: FairShare;
  /** Counts each accepted submission. */
  submitted?: (source: 'kickstart' | 'template', type: string) => void;
  /** Counts a submission answered here from an identical finished build. */
  reused?: (type: string, arch: string) => void;
  /** What the notifier told of the job's email and webhook: deleted with the job. */
  deliveries?: { remove(id: string): Promise<void> };
}

export function jobActions(deps: JobActionDeps) {
  const { store, broker, log } = deps;

  async function queue(submitted: NewJob): Promise<ActionResult<Job>> {
    // A template request's kickstart is only known once the kickstarter made it; image-creator
    // recognises those. A kickstart request is recognised here, before anything is queued.
    const plan = submitted.source === 'kickstart'
      ? parseKickstart(submitted.kickstart ?? '', { ...(submitted.suite ? { defaultSuite: submitted.suite } : {}), ...(submitted.arch ? { arch: submitted.arch } : {}) }).plan : undefined;
    const hash = plan && deps.reuse ? requestHash(plan, submitted.type, deps.reuse.builderVersion) : undefined;
    const newJob: NewJob = { ...submitted, ...(hash ? { request_hash: hash } : {}), ...(plan ? { packages_key: packageSetKey(plan, submitted.type) } : {}) };
    const ahead = deps.estimator?.forNew({
      id: 'new', email: newJob.email, type: newJob.type, status: 'queued', phase: 'queued', source: newJob.source, created: new Date(),
      ...(newJob.arch ? { arch: newJob.arch } : {}), ...(hash ? { request_hash: hash } : {}), ...(newJob.packages_key ? { packages_key: newJob.packages_key } : {}),
    });
    const spot = ahead?.spot;
    if (spot?.startAt && spot.finishAt && spot.typical) {
      newJob.queued_estimate = { start: spot.startAt, finish: spot.finishAt, build_s: spot.typical.seconds, basis: spot.typical.basis, slots: ahead!.slots };
    }
    const place = deps.share?.reserve({ email: submitted.email, client: submitted.client });
    if (place && !place.ok) return fail(place.refusal.status, place.refusal.code, place.refusal.message);
    const job = await store.create(newJob).finally(() => place?.release());
    try {
      // A rebuild asked for is built again, whatever was built before.
      const built = hash && deps.reuse && !job.rebuild ? await deps.reuse.registry.lookup(hash) : undefined;
      if (built && deps.reuse) {
        const link = await reuseImage({ storage: deps.storage, publicUrl: deps.reuse.publicUrl, image: built, job: { id: job.id, email: job.email, imagetype: job.type } });
        // The same way as any finished build: the job becomes done and the person gets the email.
        await broker.publish(routes.link, linkMessage, { ...link, request_hash: hash, start: 'identical', ...(job.suite ? { suite: job.suite } : {}), ...(job.arch ? { arch: job.arch } : {}) });
        log.info({ jobId: job.id }, 'identical to a finished build: answered from its image');
        deps.submitted?.(job.source, job.type);
        deps.reused?.(job.type, job.arch ?? 'amd64');
        return { ok: true, value: job };
      }
      // Sealed: image-creator builds only what the frontend vouches for, without reading its records.
      const sealed = { seal: sealJob(deps.tokenSecret, { id: job.id, email: job.email, imagetype: job.type }), submitted_at: new Date(job.created).toISOString() };
      if (job.source === 'kickstart') {
        await broker.publish(routes.build, imageMessage, {
          id: job.id, email: job.email, imagetype: job.type, ksfile: job.kickstart ?? '', ...(job.suite ? { suite: job.suite } : {}),
          ...(job.arch ? { arch: job.arch } : {}), ...sealed,
          ...(job.package_check?.how === 'submission' ? { package_check: 'submission' as const } : {}), ...(job.rebuild ? { rebuild: true } : {}),
        });
      } else {
        await broker.publish(routes.kickstart, kickstarterMessage, {
          id: job.id, email: job.email, imagetype: job.type, config: job.config ?? '', platform: job.platform ?? '', overlay: job.overlay ?? '',
          ...(job.suite ? { suite: job.suite } : {}), ...(job.arch ? { arch: job.arch } : {}), ...sealed, ...(job.rebuild ? { rebuild: true } : {}),
        });
      }
    } catch (err) {
      // Nothing was queued: say so on the job rather than leave it waiting for ever.
      await store.transition(job.id, 'failed', { error: 'the job could not be queued; please submit it again', error_code: 'internal' });
      log.error({ jobId: job.id, err: (err as Error).message }, 'publish failed');
      return fail(503, 'unavailable', 'the build queue is unavailable right now, so the job was not queued; try again in a minute');
    }
    log.info({ jobId: job.id, imagetype: job.type, source: job.source }, 'job queued');
    deps.submitted?.(job.source, job.type);
    return { ok: true, value: job };
  }

  async function cancel(id: string, reason = 'cancelled by request'): Promise<ActionResult<Job>> {
    const job = await store.transition(id, 'cancelled', { error: reason, error_code: 'cancelled' });
    if (!job) {
      const current = await store.get(id);
      return current ? fail(409, 'conflict', `the job is ${current.status} and cannot be cancelled`) : notFound();
    }
    // The job is cancelled whatever happens next: a late result cannot move it (the transition is conditional).
    const told = await Promise.allSettled([
      broker.publish(routes.cancel, cancelMessage, { id, reason }),
      publishNotice(broker, deps.tokenSecret, job, 'cancelled', { id, email: job.email, imagetype: job.type, reason, version: CONTRACT_VERSION }),
    ]);
    for (const t of told) if (t.status === 'rejected') log.error({ jobId: id, err: (t.reason as Error).message }, 'could not publish the cancellation');
    log.info({ jobId: id }, 'job cancelled');
    return { ok: true, value: job };
  }

  async function retry(id: string): Promise<ActionResult<Job>> {
    const old = await store.get(id);
    if (!old) return notFound();
    if (!terminalStatuses.includes(old.status)) return fail(409, 'conflict', `the job is still ${old.status}; it can be retried once it has finished`);
    const again: NewJob = { email: old.email, type: old.type, source: old.source };
    for (const k of ['kickstart', 'config', 'platform', 'overlay', 'suite', 'arch', 'filename', 'client'] as const) if (old[k] !== undefined) again[k] = old[k];
    if (old.rebuild) again.rebuild = true;
    const queued = await queue(again);
    if (queued.ok) log.info({ jobId: queued.value.id, retryOf: id }, 'job retried');
    return queued;
  }

  async function remove(id: string): Promise<ActionResult<Job>> {
    const job = await store.get(id);
    if (!job) return notFound();
    // A build still running would write its files again after they were removed.
    if (!terminalStatuses.includes(job.status)) return fail(409, 'conflict', `the job is ${job.status}; cancel it before deleting it`);
    await removeJobFiles(deps.storage, id);
    await deps.deliveries?.remove(id);
    const gone = await store.delete(id);
    if (!gone) return notFound();
    log.info({ jobId: id }, 'job deleted');
    return { ok: true, value: gone };
  }

  /** Removes every finished job with its files, as IMG's clear did. */
  async function clear(): Promise<number> {
    const finished = deps.index.all().filter((j) => terminalStatuses.includes(j.status)).map((j) => j.id);
    let n = 0;
    for (const id of finished) {
      const r = await remove(id);
      if (r.ok) n++;
    }
    log.info({ deleted: n }, 'finished jobs cleared');
    return n;
  }

  return { queue, cancel, retry, remove, clear };
}

export type JobActions = ReturnType<typeof jobActions>;
