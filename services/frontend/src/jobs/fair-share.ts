// Fair shares of the queue: besides the global cap on pending jobs, each submitter may have only
// so many jobs waiting or building, counted by email address and by client address, so one
// client cannot take everyone's share.
import { isIPv6 } from 'node:net';
import { terminalStatuses } from '@img/shared/jobs';
import type { JobSummary } from './job-summary.ts';

/**
 * The address a client is counted by: IPv4 as it is (also when it arrives IPv4-mapped), IPv6 by
 * its /64, since one host usually holds a whole /64 and could otherwise change address at will.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** Lower case and without a +tag: `a+1@x` and `a+2@x` are one submitter. */
export function emailKey(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0) return email.toLowerCase();
  return `${email.slice(0, at).replace(/\+.*$/, '')}${email.slice(at)}`.toLowerCase();
}

export interface ShareRefusal {
  status: 429;
  code: 'too_many_pending';
  message: string;
}

/**
 * Counts a submitter's pending jobs in the job list, plus the submissions of theirs under way in
 * this process (checked but not stored yet), so a burst of parallel posts cannot pass the cap.
 */
export class FairShare {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly jobs: () => readonly JobSummary[], private readonly perSubmitter: number) {}

  pending(who: { email?: string; client?: string }): { email: number; client: number } {
    const email = who.email ? emailKey(who.email) : undefined;
    let byEmail = email ? this.inFlight.get(`e:${email}`) ?? 0 : 0;
    let byClient = who.client ? this.inFlight.get(`c:${who.client}`) ?? 0 : 0;
    for (const j of this.jobs()) {
      if (terminalStatuses.includes(j.status)) continue;
      if (email && emailKey(j.email) === email) byEmail++;
      if (who.client && j.client === who.client) byClient++;
    }
    return { email: byEmail, client: byClient };
  }

  /** Why this submitter may not add a job now, or undefined when they may. */
  check(who: { email?: string; client?: string }): ShareRefusal | undefined {
    const n = this.pending(who);
    const max = this.perSubmitter;
    const refuse = (what: string, count: number): ShareRefusal => ({
      status: 429, code: 'too_many_pending',
      message: `${what} has ${count} jobs waiting or building, and the limit per ${what.replace(/^your /, '')} is ${max}; submit again when one has finished`,
    });
    if (who.client && n.client >= max) return refuse('your client address', n.client);
    if (who.email && n.email >= max) return refuse('your email address', n.email);
    return undefined;
  }

  /** Checks, and holds a place until `release` (call it once the job is stored or given up). */
  reserve(who: { email?: string; client?: string }): { ok: true; release: () => void } | { ok: false; refusal: ShareRefusal } {
    const refusal = this.check(who);
    if (refusal) return { ok: false, refusal };
    const keys = [who.email ? `e:${emailKey(who.email)}` : '', who.client ? `c:${who.client}` : ''].filter(Boolean);
    for (const k of keys) this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const k of keys) {
          const left = (this.inFlight.get(k) ?? 1) - 1;
          if (left > 0) this.inFlight.set(k, left);
          else this.inFlight.delete(k);
        }
      },
    };
  }
}
