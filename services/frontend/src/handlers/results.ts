// The frontend owns the job records: it applies what the other services report, checks each outcome
// against the job's record, and only then tells the notifier (a sealed `notify` message carrying the
// record's address). An outcome for a job nobody submitted, or naming another address or image type,
// is dead-lettered: nothing recorded, nobody mailed.
import { DeadLetter, type Broker } from '@img/shared/broker';
import type { DeliveryStatusMessage, ErrorMessage, LinkMessage, ResultMessage } from '@img/shared/contracts';
import { checkJobMessage, type JobPatch, type JobStatus, type JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import { publishNotice } from '../jobs/notify.ts';
import type { DeliveryStatuses } from '../jobs/delivery-status.ts';

/** The build's word on the package check and the warnings, when its message carries them. */
function checkPatch(msg: Pick<LinkMessage, 'package_check' | 'warnings'>): JobPatch {
  const patch: JobPatch = {};
  if (msg.package_check) {
    const { read_at: readAt, ...rest } = msg.package_check;
    patch.package_check = { ...rest, ...(readAt ? { read_at: new Date(readAt) } : {}) };
  }
  if (msg.warnings) patch.warnings = msg.warnings;
  return patch;
}

export interface ResultDeps {
  store: JobStore;
  log: Logger;
  broker: Pick<Broker, 'publish'>;
  /** IMG_TOKEN_SECRET: seals the notify messages. */
  tokenSecret: string;
  deliveries: Pick<DeliveryStatuses, 'record'>;
}

/** An outcome is checked against the record in any state it could arrive in (a success can overtake the progress). */
const expectIn: readonly JobStatus[] = ['queued', 'kickstarting', 'building', 'done', 'failed', 'cancelled'];

export function resultHandlers(deps: ResultDeps) {
  const { store, log } = deps;
  const known = async (msg: LinkMessage | ErrorMessage) => {
    const check = await checkJobMessage(store, msg, expectIn);
    if (!check.ok) throw new DeadLetter(`${check.reason}: not recorded, nobody told`);
    return check.job;
  };
  return {
    async link(msg: LinkMessage): Promise<void> {
      await known(msg);
      const job = await store.transition(msg.id, 'done', {
        url: msg.url, logurl: msg.logurl, size: msg.size, sha256: msg.sha256,
        imagefile: msg.filename, duration_s: msg.duration_s, progress: 1,
        ...(msg.verified ? { verified: msg.verified } : {}),
        ...(msg.compression ? { compression: msg.compression } : {}),
        ...(msg.disk_size !== undefined ? { disk_size: msg.disk_size } : {}),
        ...(msg.disk_sha256 ? { disk_sha256: msg.disk_sha256 } : {}),
        ...(msg.request_hash ? { request_hash: msg.request_hash } : {}),
        ...(msg.start ? { start: msg.start } : {}),
        ...checkPatch(msg),
      });
      log.info({ jobId: msg.id, moved: Boolean(job) }, job ? 'job done' : 'link for a job not in a building state, ignored');
      // Told again on a redelivery (the job is done already): the notifier sends one email per outcome.
      const now = job ?? (await store.get(msg.id));
      if (now?.status === 'done') await publishNotice(deps.broker, deps.tokenSecret, now, 'done', msg);
    },
    async error(msg: ErrorMessage): Promise<void> {
      await known(msg);
      const job = await store.transition(msg.id, 'failed', {
        error: msg.error, error_code: msg.code, error_excerpt: msg.excerpt, logurl: msg.url, ...checkPatch(msg),
      });
      log.info({ jobId: msg.id, code: msg.code, moved: Boolean(job) }, job ? 'job failed' : 'error for a finished job, ignored');
      const now = job ?? (await store.get(msg.id));
      if (now?.status === 'failed') await publishNotice(deps.broker, deps.tokenSecret, now, 'failed', msg);
    },
    async result(msg: ResultMessage): Promise<void> {
      const job = await store.advancePhase(msg.id, msg.phase, {
        logfile: msg.logfile, ...(msg.progress !== undefined ? { progress: msg.progress } : {}), ...(msg.start ? { start: msg.start } : {}), ...checkPatch(msg),
      });
      log.debug({ jobId: msg.id, phase: msg.phase, moved: Boolean(job) }, 'progress');
    },
    async delivery(msg: DeliveryStatusMessage): Promise<void> {
      await deps.deliveries.record(msg);
      log.debug({ jobId: msg.id, channel: msg.channel, state: msg.state }, 'delivery status');
    },
  };
}
