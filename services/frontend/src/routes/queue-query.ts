// The queue's filters and paging, for the page and the API alike.
import { z } from 'zod';
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
