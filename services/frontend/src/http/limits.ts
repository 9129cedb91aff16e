// Limits on submissions: a body size checked before reading, a rate per client, and caps on the
// jobs waiting (in all, and per submitter), so one client cannot fill the queue and a full queue
// says so plainly.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { refuseBody } from './respond.ts';
import { clientKey, type FairShare } from '../jobs/fair-share.ts';

/** Refuses a body whose declared length is over `maxBytes` before a byte of it is read. */
export function bodySizeGuard(maxBytes: number): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > maxBytes) {
      refuseBody(req, res, 413, 'too_large', `the request is ${declared} bytes; the limit is ${maxBytes} bytes`);
      return;
    }
    next();
  };
}

export function submissionRateLimit(opts: { limit: number; windowS: number }): RequestHandler {
  return rateLimit({
    windowMs: opts.windowS * 1000,
    limit: opts.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, res) => {
      res.setHeader('Retry-After', String(Math.ceil(opts.windowS)));
      refuseBody(req, res, 429, 'rate_limited',
        `too many submissions from your address: at most ${opts.limit} every ${opts.windowS} s; try again later`);
    },
  });
}

/** The global cap, then this client's share (its email's share is checked once the body is read). */
export function pendingJobsCap(opts: { max: number; pending: () => number; share?: FairShare }): RequestHandler {
  return (req, res, next) => {
    const pending = opts.pending();
    if (pending >= opts.max) {
      res.setHeader('Retry-After', '60');
      refuseBody(req, res, 503, 'queue_full', `the build queue is full (${pending} jobs waiting or building); try again in a few minutes`);
      return;
    }
    const refusal = opts.share?.check({ client: clientKey(req.ip) });
    if (refusal) {
      res.setHeader('Retry-After', '60');
      refuseBody(req, res, refusal.status, refusal.code, refusal.message);
      return;
    }
    next();
  };
}

/** Checks of kickstarts (POST /api/v1/kickstart/check): cheap, but each reads a body, so per client address too. */
export function checkRateLimit(opts: { limit: number }): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: opts.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, res) => {
      res.setHeader('Retry-After', '60');
      refuseBody(req, res, 429, 'rate_limited', `too many kickstart checks from your address: at most ${opts.limit} a minute; try again later`);
    },
  });
}
