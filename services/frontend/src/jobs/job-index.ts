// The job list kept in memory, newest first, for the queue, the lists and the estimates.
//
// Why: FerretDB 1.x on SQLite pushes down only `_id` equality filters. Every other find, sort or
// count reads and decodes the whole collection (about 0.6 s for 10,000 jobs on this machine), so
// a queue page straight from the database can never answer in 50 ms. Instead the frontend, which
// makes every write to the jobs, applies its own writes here as it makes them, and each write
// also sets a revision token (a document read by `_id`, which is cheap). Another copy of the
// frontend notices a token it did not set and reads the collection again; a single copy never
// has to after starting.
import type { Logger } from '@img/shared/logging';
import { terminalStatuses, type Job, type JobStatus } from '@img/shared/jobs';
import { toSummary, type JobSummary } from './job-summary.ts';

export interface JobSource {
  /** Every job as a summary: a full read, made at start and when another copy changed something. */
  loadAll(): Promise<JobSummary[]>;
  /** The token the last write left; undefined before any write. */
  revision(): Promise<string | undefined>;
}

export interface IndexFilter {
  status?: readonly JobStatus[];
  email?: string;
}

/** A full read now and then even when no token changed: a write that bypassed the frontend is seen eventually. */
const SAFETY_RELOAD_MS = 5 * 60_000;

const FILTER_CACHE_SIZE = 64;

const byNewest = (a: JobSummary, b: JobSummary) => b.created.getTime() - a.created.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class JobIndex {
  private byId = new Map<string, JobSummary>();
  private ordered: JobSummary[] = [];
  private orderStale = false;
  private seenRevision: string | undefined;
  private lastCheck = 0;
  private lastLoad = 0;
  private checking: Promise<void> | undefined;
  /** Ids written while a full read was under way: their state here is newer than what the read returns. */
  private writtenDuringLoad: Set<string> | undefined;
  private readonly listeners = new Set<(id: string | undefined) => void>();
  private timer: NodeJS.Timeout | undefined;
  private filterCache: { version: number; lists: Map<string, readonly JobSummary[]> } = { version: -1, lists: new Map() };
  /** Goes up with every change; caches of derived figures key on it. */
  version = 0;

  constructor(private readonly source: JobSource, private readonly opts: { refreshMs: number; log: Logger }) {}

  async load(): Promise<void> {
    const started = Date.now();
    this.writtenDuringLoad = new Set();
    try {
      const revision = await this.source.revision();
      const all = await this.source.loadAll();
      const next = new Map(all.map((s) => [s.id, s]));
      for (const id of this.writtenDuringLoad) {
        const mine = this.byId.get(id);
        if (mine) next.set(id, mine);
        else next.delete(id);
      }
      this.byId = next;
      this.ordered = [...next.values()].sort(byNewest);
      this.orderStale = false;
      this.seenRevision = revision;
      this.lastLoad = Date.now();
      this.opts.log.debug({ jobs: next.size, ms: Date.now() - started }, 'job list read');
    } finally {
      this.writtenDuringLoad = undefined;
    }
    this.changed(undefined);
  }

  apply(job: Job | JobSummary): void {
    const s = toSummary(job);
    const old = this.byId.get(s.id);
    this.byId.set(s.id, s);
    this.writtenDuringLoad?.add(s.id);
    const at = old && !this.orderStale ? this.ordered.indexOf(old) : -1;
    if (at >= 0 && old!.created.getTime() === s.created.getTime()) this.ordered[at] = s;
    else this.orderStale = true;
    this.changed(s.id);
  }

  remove(id: string): void {
    this.writtenDuringLoad?.add(id);
    if (!this.byId.delete(id)) return;
    this.orderStale = true;
    this.changed(id);
  }

  /**
   * After this process wrote and set `revision`: if the token it replaced is the one last seen,
   * no other copy wrote in between and nothing needs reading again.
   */
  acknowledge(previous: string | undefined, revision: string): void {
    if (previous === this.seenRevision) this.seenRevision = revision;
  }

  get(id: string): JobSummary | undefined {
    this.touch();
    return this.byId.get(id);
  }

  /** Newest first. */
  all(): readonly JobSummary[] {
    this.touch();
    if (this.orderStale) {
      this.ordered = [...this.byId.values()].sort(byNewest);
      this.orderStale = false;
    }
    return this.ordered;
  }

  list(filter: IndexFilter, page: { offset: number; limit: number }): { jobs: JobSummary[]; total: number } {
    const all = this.all();
    if (!filter.status?.length && !filter.email) return { jobs: all.slice(page.offset, page.offset + page.limit), total: all.length };
    const hits = this.filtered(all, filter);
    return { jobs: hits.slice(page.offset, page.offset + page.limit), total: hits.length };
  }

  /** Filtered lists are kept until the next change: paging through one costs a single pass. */
  private filtered(all: readonly JobSummary[], filter: IndexFilter): readonly JobSummary[] {
    const key = `${[...(filter.status ?? [])].sort().join(',')}|${filter.email?.toLowerCase() ?? ''}`;
    if (this.filterCache.version !== this.version) this.filterCache = { version: this.version, lists: new Map() };
    const hit = this.filterCache.lists.get(key);
    if (hit) return hit;
    const email = filter.email?.toLowerCase();
    const hits = all.filter((j) => (!filter.status?.length || filter.status.includes(j.status)) && (!email || j.email.toLowerCase() === email));
    if (this.filterCache.lists.size >= FILTER_CACHE_SIZE) this.filterCache.lists.clear();
    this.filterCache.lists.set(key, hits);
    return hits;
  }

  /** Jobs not finished: queued, kickstarting or building. */
  pendingCount(): number {
    let n = 0;
    for (const j of this.all()) if (!terminalStatuses.includes(j.status)) n++;
    return n;
  }

  /** Calls `fn` with the id of each changed job (undefined after a full read); keeps the list fresh while watched. */
  watch(fn: (id: string | undefined) => void): () => void {
    this.listeners.add(fn);
    this.timer ??= setInterval(() => this.touch(), this.opts.refreshMs).unref();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Waits for a check under way (tests and shutdown). */
  async settle(): Promise<void> {
    await this.checking;
  }

  stop(): void {
    this.listeners.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Readers never wait: at most once per refresh interval a check runs behind them. */
  private touch(): void {
    const now = Date.now();
    if (this.checking || now - this.lastCheck < this.opts.refreshMs) return;
    this.lastCheck = now;
    this.checking = this.check().catch((err: Error) => {
      this.opts.log.warn({ err: err.message }, 'could not refresh the job list; showing the last one read');
    }).finally(() => {
      this.checking = undefined;
    });
  }

  private async check(): Promise<void> {
    const revision = await this.source.revision();
    if (revision !== this.seenRevision || Date.now() - this.lastLoad > SAFETY_RELOAD_MS) await this.load();
  }

  private changed(id: string | undefined): void {
    this.version++;
    for (const fn of this.listeners) {
      try {
        fn(id);
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'job list listener failed');
      }
    }
  }
}
