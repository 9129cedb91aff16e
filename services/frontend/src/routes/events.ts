// Live updates as server-sent events: the queue says when it changed (the page then fetches its
// rows again), a job streams its log as it grows and says when its state changes.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { terminalStatuses, type Job } from '@img/shared/jobs';
import { sendError } from '../http/respond.ts';
import type { RouteDeps } from './deps.ts';

const LOG_POLL_MS = 500;
const LOG_EVENT_MAX = 64 * 1024;
/** Changes closer together than this are told once: a busy queue does not flood the pages. */
const QUEUE_THROTTLE_MS = 500;

const offsetSchema = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function eventRoutes(deps: RouteDeps): Router {
  const { hub, index } = deps;
  const r = Router();
  const busy = (req: Request, res: Response) => {
    const why = hub.refusal(req) ?? { status: 503, code: 'busy', message: 'too many live connections right now; reload the page to see the latest state' };
    sendError(req, res, why.status, why.code, why.message);
  };

  r.get('/api/v1/queue/events', (req, res) => {
    const stream = hub.open(req, res);
    if (!stream) {
      busy(req, res);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let last = 0;
    const tell = () => {
      timer = undefined;
      last = Date.now();
      stream.send('change', { version: index.version });
    };
    const unwatch = index.watch(() => {
      if (timer) return;
      timer = setTimeout(tell, Math.max(0, QUEUE_THROTTLE_MS - (Date.now() - last)));
    });
    stream.onClose(() => {
      unwatch();
      clearTimeout(timer);
    });
    stream.send('hello', { version: index.version });
  });

  // The live log is the job's owner's (its token, in the query: EventSource sends no headers) or the operator's.
  r.get('/api/v1/jobs/:id/events', deps.access.require(deps.store), async (req, res) => {
    // Where the log resumes: a reconnecting EventSource sends the last event id it saw.
    const resume = offsetSchema.safeParse(req.get('last-event-id') ?? req.query.offset ?? 0);
    if (!resume.success) {
      sendError(req, res, 400, 'invalid_request', 'offset: a byte offset into the log (a whole number, 0 or more)');
      return;
    }
    const job = res.locals.job as Job;
    const stream = hub.open(req, res);
    if (!stream) {
      busy(req, res);
      return;
    }
    let offset = resume.data;
    let state: Pick<Job, 'status' | 'phase' | 'progress'> = job;
    let reading = false;
    const tellState = () => stream.send('job', { status: state.status, phase: state.phase, progress: state.progress ?? null });
    const stop = () => stream.close();
    const pump = async () => {
      if (reading || stream.closed) return;
      reading = true;
      try {
        for (;;) {
          const chunk = await deps.logs.read(job.id, offset, LOG_EVENT_MAX, terminalStatuses.includes(state.status));
          if (chunk.next > offset) {
            offset = chunk.next;
            stream.send('log', { text: chunk.text }, offset);
          }
          if (chunk.next >= chunk.size || stream.closed) break;
        }
        // Finished and the whole log sent: nothing more will come.
        if (terminalStatuses.includes(state.status)) {
          stream.send('end', { status: state.status });
          stream.close();
        }
      } finally {
        reading = false;
      }
    };
    const unwatch = index.watch((id) => {
      if (id !== job.id && id !== undefined) return;
      const s = index.get(job.id);
      if (!s || (s.status === state.status && s.phase === state.phase && s.progress === state.progress)) return;
      state = s;
      tellState();
      void pump().catch(stop);
    });
    const poll = setInterval(() => void pump().catch(stop), LOG_POLL_MS);
    let unwatchLog = () => {};
    stream.onClose(() => {
      unwatch();
      unwatchLog();
      clearInterval(poll);
    });
    tellState();
    await pump().catch(stop);
    // New log text is sent as it arrives from the build's stream; the poll covers the rest.
    unwatchLog = deps.logs.watch(job.id, () => void pump().catch(stop));
  });

  return r;
}
