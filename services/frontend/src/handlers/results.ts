// The frontend owns the job records: it applies what the other services report.
import type { ErrorMessage, LinkMessage, ResultMessage } from '@img/shared/contracts';
import type { JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';

export function resultHandlers(store: JobStore, log: Logger) {
  return {
    async link(msg: LinkMessage): Promise<void> {
      const job = await store.transition(msg.id, 'done', {
        url: msg.url, logurl: msg.logurl, size: msg.size, sha256: msg.sha256,
        imagefile: msg.filename, duration_s: msg.duration_s, progress: 1,
        ...(msg.verified ? { verified: msg.verified } : {}),
        ...(msg.request_hash ? { request_hash: msg.request_hash } : {}),
      });
      log.info({ jobId: msg.id, moved: Boolean(job) }, job ? 'job done' : 'link for a job not in a building state, ignored');
    },
    async error(msg: ErrorMessage): Promise<void> {
      const job = await store.transition(msg.id, 'failed', {
        error: msg.error, error_code: msg.code, error_excerpt: msg.excerpt, logurl: msg.url,
      });
      log.info({ jobId: msg.id, code: msg.code, moved: Boolean(job) }, job ? 'job failed' : 'error for a finished job, ignored');
    },
    async result(msg: ResultMessage): Promise<void> {
      const job = await store.advancePhase(msg.id, msg.phase, {
        logfile: msg.logfile, ...(msg.progress !== undefined ? { progress: msg.progress } : {}),
      });
      log.debug({ jobId: msg.id, phase: msg.phase, moved: Boolean(job) }, 'progress');
    },
  };
}
