// The queue's filters and paging, for the page and the API alike.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { OperatorAuth } from '../http/operator-auth.ts';
import { jobStatuses, terminalStatuses, type JobStatus } from '@img/shared/jobs';

const groups: Record<string, readonly JobStatus[]> = {
  active: ['queued', 'kickstarting', 'building'],
  finished: terminalStatuses,
};

export const statusChoices = ['active', 'finished', ...jobStatuses] as const;

const statusParam = z.string().max(200).optional().transform((v, ctx): JobStatus[] | undefined => {
  if (!v) return undefined;
  const out = new Set<JobStatus>();
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const group = groups[part];
    if (group) group.forEach((s) => out.add(s));
    else if ((jobStatuses as readonly string[]).includes(part)) out.add(part as JobStatus);
    else {
      ctx.addIssue({ code: 'custom', message: `unknown status '${part.slice(0, 40)}'; use ${statusChoices.join(', ')}` });
      return z.NEVER;
    }
  }
  return [...out];
});

export const queueQuery = z.object({
  status: statusParam,
  email: z.string().trim().max(254).optional().transform((v) => v || undefined),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  fragment: z.enum(['rows']).optional(),
  /** Set by the clear page's redirect, to say how many jobs went. */
  cleared: z.coerce.number().int().min(0).optional(),
});

export type QueueQuery = z.infer<typeof queueQuery>;

export function queueQueryError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
}

/** `?reveal=secrets` shows a kickstart's passwords to whoever may read it; nothing else is known. */
export const revealQuery = z.object({ reveal: z.enum(['secrets']).optional() });

/**
 * Filtering the queue by email address is the operator's: for anyone else it would tell whether
 * an address has jobs here, and which ones, which the masked queue is meant not to. True when
 * the request was refused (answered 503, 401 or 403).
 */
export function emailFilterRefused(operator: OperatorAuth, req: Request, res: Response, q: Pick<QueueQuery, 'email'>): boolean {
  if (!q.email) return false;
  const who = operator.check(req);
  if (who === 'operator') return false;
  operator.refuse(req, res, who);
  return true;
}
