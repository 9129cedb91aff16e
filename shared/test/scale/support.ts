// What the scale tests do as a person would: submit through the API, follow the log with ?offset=
// while the build runs, wait for the end, download, and read the mail.
import assert from 'node:assert/strict';
import { waitFor } from '@img/shared/testing';

export interface SubmittedJob {
  id: string;
  token: string;
  email: string;
}

export interface ApiJob {
  id: string;
  status: string;
  error?: string;
  size?: number;
  sha256?: string;
  imagefile?: string;
  email_status?: { state: string };
}

export async function submit(base: string, email: string, kickstart: string, imagetype = 'tar'): Promise<SubmittedJob> {
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, imagetype, kickstart }),
  });
  const body = (await res.json()) as { id: string; token: string; error?: unknown };
  assert.equal(res.status, 201, JSON.stringify(body));
  return { id: body.id, token: body.token, email };
}

export async function jobOf(base: string, job: SubmittedJob): Promise<ApiJob> {
  const res = await fetch(`${base}/api/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${job.token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as ApiJob;
}

export async function finished(base: string, job: SubmittedJob, timeoutMs: number): Promise<ApiJob> {
  return waitFor(`job ${job.id} to finish`, async () => {
    const j = await jobOf(base, job);
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs, intervalMs: 500 });
}

/**
 * Follows the log as `img log --follow` does: from offset 0, each read from the X-Log-Offset of the
 * last, until the job has finished and a read brings nothing new. Returns the text and what was
 * seen while the job was still running.
 */
export async function followLog(base: string, job: SubmittedJob, timeoutMs: number): Promise<{ text: string; whileRunning: string; reads: number }> {
  let offset = 0;
  let text = '';
  let whileRunning = '';
  let reads = 0;
  await waitFor(`the whole log of ${job.id}`, async () => {
    const res = await fetch(`${base}/api/v1/jobs/${job.id}/log?offset=${offset}&max=4096`, { headers: { authorization: `Bearer ${job.token}` } });
    assert.equal(res.status, 200);
    const chunk = await res.text();
    const next = Number(res.headers.get('x-log-offset'));
    const status = res.headers.get('x-job-status') ?? '';
    reads++;
    assert.equal(next - offset, Buffer.byteLength(chunk), `X-Log-Offset moves by the bytes sent (at ${offset})`);
    text += chunk;
    offset = next;
    if (!['done', 'failed', 'cancelled'].includes(status)) {
      whileRunning = text;
      return false;
    }
    return chunk === '';
  }, { timeoutMs, intervalMs: 300 });
  return { text, whileRunning, reads };
}

export async function download(base: string, job: SubmittedJob, range?: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${base}/images/${job.id}`, { headers: { authorization: `Bearer ${job.token}`, ...(range ? { range } : {}) } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
