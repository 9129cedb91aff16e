// The job tokens `img submit` was given, so the other subcommands can act on the jobs this account
// submitted. One JSON file per user, readable by that user only: $XDG_STATE_HOME/img/tokens.json,
// else ~/.local/state/img/tokens.json, keyed by the server's URL and the job id. Writes go through
// a lock file and a rename, so parallel submissions keep every token and a crash leaves the old file.
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Tokens kept per server; past it the oldest go (a job's image is kept for days, not years). */
const KEEP_PER_SERVER = 2000;
const LOCK_WAIT_MS = 10_000;
/** A lock older than this was left by a process that died holding it. */
const LOCK_STALE_MS = 30_000;

interface Entry { token: string; saved: string }
interface StoreFile { version: 1; servers: Record<string, Record<string, Entry>> }

export function tokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'img', 'tokens.json');
}

/** The server as a key: scheme, host (lower case, as URL writes it) and path, no trailing slash. */
export function serverKey(server: string): string {
  try {
    const u = new URL(server);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return server.replace(/\/+$/, '');
  }
}

const empty = (): StoreFile => ({ version: 1, servers: {} });

export class TokenStore {
  constructor(readonly file: string = tokenFilePath()) {}

  private async read(): Promise<StoreFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty();
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as StoreFile;
      if (parsed && parsed.version === 1 && typeof parsed.servers === 'object' && parsed.servers) return parsed;
    } catch {
      // Handled below, as for a file of another shape.
    }
    throw new Error(`${this.file} is not a token file of this img; move it away`);
  }

  async get(server: string, id: string): Promise<string | undefined> {
    await this.tighten();
    const data = await this.read();
    const entry = Object.hasOwn(data.servers, serverKey(server)) ? data.servers[serverKey(server)]! : undefined;
    return entry && Object.hasOwn(entry, id) ? entry[id]!.token : undefined;
  }

  async put(server: string, id: string, token: string): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await this.locked(async () => {
      const data = await this.read();
      const key = serverKey(server);
      const jobs = Object.hasOwn(data.servers, key) ? data.servers[key]! : {};
      jobs[id] = { token, saved: new Date().toISOString() };
      const kept = Object.entries(jobs).sort((a, b) => b[1].saved.localeCompare(a[1].saved)).slice(0, KEEP_PER_SERVER);
      data.servers[key] = Object.fromEntries(kept);
      const tmp = `${this.file}.${process.pid}.tmp`;
      // Created 0600, never wider for a moment; the rename replaces the file whole.
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.chmod(0o600);
        await fh.writeFile(`${JSON.stringify(data, null, 1)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    });
  }

  /** Makes a file another tool or an old version left wider readable by this user only. */
  async tighten(): Promise<void> {
    try {
      const s = await stat(this.file);
      if ((s.mode & 0o077) !== 0) await chmod(this.file, 0o600);
    } catch {
      // No file yet: nothing to tighten.
    }
  }

  private async locked(fn: () => Promise<void>): Promise<void> {
    const lock = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await (await open(lock, 'wx', 0o600)).close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > LOCK_STALE_MS) await rm(lock, { force: true });
        else if (Date.now() > deadline) throw new Error(`${lock} is held by another img; remove it if no img is running`);
        else await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
      }
    }
    try {
      await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}
