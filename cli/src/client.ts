// A small client of the IMG REST API (/api/v1) for the `img` subcommands. The server comes from
// --server, else IMG_SERVER, else http://localhost:8080. A job's routes need its token (or the
// operator's): the client sends it as `Authorization: Bearer`, never in a URL.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { meter } from '@img/shared/streams';

export const DEFAULT_SERVER = 'http://localhost:8080';

export interface ApiJob {
  id: string;
  email: string;
  type: string;
  status: 'queued' | 'kickstarting' | 'building' | 'done' | 'failed' | 'cancelled';
  phase: string;
  progress?: number;
  suite?: string;
  arch?: string;
  created: string;
  started?: string;
  finished?: string;
  duration_s?: number;
  size?: number;
  sha256?: string;
  compression?: 'zstd' | 'qcow2';
  disk_size?: number;
  disk_sha256?: string;
  imagefile?: string;
  error?: string;
  error_code?: string;
  error_excerpt?: string[];
  queue_position?: number;
  estimated_start?: string;
  /** While it waits or builds: as the queue stands; once ended: as estimated when it was queued. */
  estimated_finish?: string;
  estimated_build_s?: number;
  estimate_basis?: string;
  actual_start?: string;
  actual_finish?: string;
  estimate_error_pct?: number;
  phase_times?: Array<{ phase: string; start: string; seconds: number }>;
  email_status?: { state: string; error?: string };
  links: Record<string, string>;
  /** The job's secret token: in the submission's answer, and for the token's holder. */
  token?: string;
  /** Only in the answer to a submission with a callback_url. */
  webhook_secret?: string;
}

/** POST /api/v1/kickstart/check's answer. */
export interface KickstartCheckAnswer {
  ok: boolean;
  suite: string;
  architecture: string;
  errors: Array<{ line: number; message: string }>;
  warnings: Array<{ line: number; message: string }>;
  package_check: { state: 'checked'; against: string; read_at: string } | { state: 'no-index'; against: string } | { state: 'skipped'; reason: string };
}

export const finishedStatuses: readonly string[] = ['done', 'failed', 'cancelled'];

/** An answer of the server that is not a success, with its message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly fields: Array<{ field: string; message: string }> = []) {
    super(message);
    this.name = 'ApiError';
  }
}

export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return (flag || env.IMG_SERVER || DEFAULT_SERVER).replace(/\/+$/, '');
}

export class ImgClient {
  /** The Authorization header value sent with every request, if any (the job's token, or the operator's). */
  authorization: string | undefined;

  constructor(readonly server: string, opts: { authorization?: string } = {}) {
    this.authorization = opts.authorization;
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    const auth: Record<string, string> = this.authorization ? { authorization: this.authorization } : {};
    try {
      res = await fetch(`${this.server}${path}`, { ...init, headers: { accept: 'application/json', ...auth, ...(init.headers ?? {}) } });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, 'unreachable', `cannot reach the IMG server at ${this.server}: ${cause?.code ?? cause?.message ?? (err as Error).message} (set --server or IMG_SERVER)`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let body: { error?: { code?: string; message?: string; fields?: Array<{ field: string; message: string }> } } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not the API's JSON (a proxy's page, say): the status says enough.
    }
    throw new ApiError(res.status, body.error?.code ?? 'http_error', body.error?.message ?? `the server answered ${res.status} ${res.statusText}`, body.error?.fields ?? []);
  }

  async submit(form: FormData): Promise<ApiJob> {
    return (await this.request('/api/v1/jobs', { method: 'POST', body: form })).json() as Promise<ApiJob>;
  }

  /** A kickstart read and its packages checked by the server, as a submission would be; nothing is queued. */
  async checkKickstart(kickstart: string, suite?: string, arch?: string): Promise<KickstartCheckAnswer> {
    return (await this.request('/api/v1/kickstart/check', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart, ...(suite ? { suite } : {}), ...(arch ? { arch } : {}) }),
    })).json() as Promise<KickstartCheckAnswer>;
  }

  async job(id: string): Promise<ApiJob> {
    return (await this.request(`/api/v1/jobs/${encodeURIComponent(id)}`)).json() as Promise<ApiJob>;
  }

  async cancel(id: string): Promise<ApiJob> {
    return (await this.request(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })).json() as Promise<ApiJob>;
  }

  /** The log from `offset`; `next` is where the following read starts. */
  async log(id: string, offset: number): Promise<{ text: string; next: number; status: string }> {
    const res = await this.request(`/api/v1/jobs/${encodeURIComponent(id)}/log?offset=${offset}`, { headers: { accept: 'text/plain' } });
    const text = await res.text();
    return { text, next: Number(res.headers.get('x-log-offset') ?? offset), status: res.headers.get('x-job-status') ?? '' };
  }

  /**
   * Streams the image to `dest` (through a temporary name) and checks its SHA-256 against the
   * server's; a mismatch removes the file and throws. A .zst image (raw, loop, ISO) is decompressed
   * by the `zstd` command as it arrives, and both sums are checked (the download's and the
   * decompressed image's), unless `keepCompressed`.
   */
  async download(id: string, dest: (serverName: string) => string, onProgress?: (bytes: number, total: number) => void,
    opts: { keepCompressed?: boolean } = {}): Promise<{ path: string; size: number; sha256: string; decompressed?: { size: number; sha256: string } }> {
    const job = await this.job(id);
    const res = await this.request(`/images/${encodeURIComponent(id)}`, { headers: { accept: 'application/octet-stream, application/json;q=0.9' } });
    const total = Number(res.headers.get('content-length') ?? 0);
    const expected = res.headers.get('x-checksum-sha256') ?? job.sha256;
    const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? job.imagefile ?? `${id}.img`;
    const unzst = job.compression === 'zstd' && name.endsWith('.zst') && !opts.keepCompressed;
    const path = dest(unzst ? name.slice(0, -4) : name);
    const partial = `${path}.part`;
    const metered = meter((bytes) => onProgress?.(bytes, total));
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    let decompressed: { size: number; sha256: string } | undefined;
    try {
      if (unzst) decompressed = await unzstdTo(body, metered, partial);
      else await pipeline(body, metered, createWriteStream(partial));
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    const sha256 = metered.sha256();
    const bytes = metered.bytes;
    if ((expected && sha256 !== expected) || (total && bytes !== total)) {
      await rm(partial, { force: true });
      throw new ApiError(0, 'checksum', `the download is damaged: got ${bytes} bytes with SHA-256 ${sha256}, expected ${total} bytes with ${expected ?? '(no checksum)'}`);
    }
    if (decompressed && ((job.disk_sha256 && decompressed.sha256 !== job.disk_sha256) || (job.disk_size !== undefined && decompressed.size !== job.disk_size))) {
      await rm(partial, { force: true });
      throw new ApiError(0, 'checksum', `the decompressed image is not the one built: ${decompressed.size} bytes with SHA-256 ${decompressed.sha256}, expected ${job.disk_size} bytes with ${job.disk_sha256}`);
    }
    await rename(partial, path);
    return { path, size: bytes, sha256, ...(decompressed ? { decompressed } : {}) };
  }
}

/** Pipes `input` through `zstd -d` into the new file `out`; the decompressed bytes are counted and hashed. */
async function unzstdTo(input: Readable, metered: Transform, out: string): Promise<{ size: number; sha256: string }> {
  const zstd = spawn('zstd', ['-q', '-d', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  zstd.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4000) stderr += d; });
  const exited = new Promise<number | null>((resolve, reject) => {
    zstd.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new ApiError(0, 'no_zstd', 'the image is zstd-compressed and the zstd command is not installed: install it (Debian: apt install zstd), or download with --keep-compressed')
      : err));
    zstd.on('close', resolve);
  });
  const count = meter();
  const [inp, outp, done] = await Promise.allSettled([pipeline(input, metered, zstd.stdin), pipeline(zstd.stdout, count, createWriteStream(out)), exited]);
  // zstd's own failure (not installed, say) explains a broken pipe better than the pipe does.
  if (done.status === 'rejected') throw done.reason;
  if (inp.status === 'rejected') throw inp.reason;
  if (outp.status === 'rejected') throw outp.reason;
  const code = done.value;
  if (code !== 0) throw new ApiError(0, 'checksum', `zstd could not decompress the download (exit ${code}): ${stderr.trim()}`);
  return { size: count.bytes, sha256: count.sha256() };
}

/** One line per problem, as the CLI prints an API error. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.fields.map((f) => `  ${f.field}: ${f.message}`);
    return fields.length > 0 ? `${err.status ? `${err.status} ` : ''}the server refused the request:\n${fields.join('\n')}` : err.message;
  }
  return (err as Error).message;
}

/** A link as the CLI prints it: without its `token=`, which the CLI holds itself and keeps off terminals and logs. */
export function shownLink(url: string | undefined): string {
  if (!url) return '';
  try {
    const u = new URL(url);
    if (!u.searchParams.has('token')) return url;
    u.searchParams.delete('token');
    return u.toString();
  } catch {
    return url.replace(/([?&])token=[^&#]*&?/, '$1').replace(/[?&]$/, '');
  }
}

/** The job as `--json` prints it: the same, without the token in it or in its links. */
export function shownJob(job: ApiJob): Omit<ApiJob, 'token'> {
  const { token: _t, ...rest } = job;
  return { ...rest, links: Object.fromEntries(Object.entries(job.links ?? {}).map(([k, v]) => [k, shownLink(v)])) };
}

/** "building · installing 40%", "queued · #2, starts in ~3 min": one line of a job's state. */
export function stateLine(job: ApiJob, now = Date.now()): string {
  const parts: string[] = [job.status];
  if (job.status === 'building' || job.status === 'kickstarting') parts.push(job.phase + (job.progress !== undefined ? ` ${Math.round(job.progress * 100)}%` : ''));
  const minutes = (at: string) => Math.max(0, Math.round((Date.parse(at) - now) / 60_000));
  if (job.queue_position !== undefined) {
    parts.push(`#${job.queue_position} in the queue${job.estimated_start ? `, starts in ~${minutes(job.estimated_start)} min` : ''}`);
  }
  if (!finishedStatuses.includes(job.status) && job.estimated_finish) parts.push(`done in ~${minutes(job.estimated_finish)} min`);
  return parts.join(' · ');
}

const clock = (at: string) => `${new Date(at).toISOString().slice(11, 19)} UTC`;

/** "start 10:02:00 UTC (actual 10:02:05 UTC) · finish …": the estimates, and the actual figures once the job has ended. */
export function estimateLines(job: ApiJob): string[] {
  const lines: string[] = [];
  const pair = (what: string, est?: string, actual?: string) => {
    if (!est && !actual) return;
    lines.push(`${what.padEnd(9)}${est ? `estimated ${clock(est)}` : 'not estimated'}${actual ? `, actual ${clock(actual)}` : ''}`);
  };
  pair('start', job.estimated_start, job.actual_start);
  pair('finish', job.estimated_finish, job.actual_finish);
  if (job.estimate_error_pct !== undefined) lines.push(`off by   ${job.estimate_error_pct} % of the time it took`);
  if (job.estimate_basis) lines.push(`from     ${job.estimate_basis}`);
  if (job.phase_times?.length) lines.push(`phases   ${job.phase_times.map((p) => `${p.phase} ${p.seconds} s`).join(', ')}`);
  return lines;
}

/** The options every API subcommand takes, for parseArgs. */
export function commonOptions() {
  return { server: { type: 'string' as const }, help: { type: 'boolean' as const, short: 'h' } };
}
