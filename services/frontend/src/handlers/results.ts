// The frontend owns the job records: it applies what the other services report.
import type { ErrorMessage, LinkMessage, ResultMessage } from '@img/shared/contracts';
import type { JobPatch, JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';

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

export function resultHandlers(store: JobStore, log: Logger) {
  return {
    async link(msg: LinkMessage): Promise<void> {
      const job = await store.transition(msg.id, 'done', {
        url: msg.url, logurl: msg.logurl, size: msg.size, sha256: msg.sha256,
        imagefile: msg.filename, duration_s: msg.duration_s, progress: 1,
        ...(msg.verified ? { verified: msg.verified } : {}),
        ...(msg.request_hash ? { request_hash: msg.request_hash } : {}),
        ...checkPatch(msg),
      });
      log.info({ jobId: msg.id, moved: Boolean(job) }, job ? 'job done' : 'link for a job not in a building state, ignored');
    },
    async error(msg: ErrorMessage): Promise<void> {
      const job = await store.transition(msg.id, 'failed', {
        error: msg.error, error_code: msg.code, error_excerpt: msg.excerpt, logurl: msg.url, ...checkPatch(msg),
      });
      log.info({ jobId: msg.id, code: msg.code, moved: Boolean(job) }, job ? 'job failed' : 'error for a finished job, ignored');
    },
    async result(msg: ResultMessage): Promise<void> {
      const job = await store.advancePhase(msg.id, msg.phase, {
        logfile: msg.logfile, ...(msg.progress !== undefined ? { progress: msg.progress } : {}), ...checkPatch(msg),
      });
      log.debug({ jobId: msg.id, phase: msg.phase, moved: Boolean(job) }, 'progress');
    },
  };
}
