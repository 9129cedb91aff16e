// Runs one build in a throwaway container: created, streamed, waited for, and removed in a
// `finally`, whatever happens. The sandbox's limits are set here.
import { readFile, statfs } from 'node:fs/promises';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import Docker from 'dockerode';
import type { Logger } from '@img/shared/logging';
import { SANDBOX_CAPABILITIES } from '@img/shared/sandbox';

export { SANDBOX_CAPABILITIES };

export const MANAGED_LABEL = 'img.managed-by';
export const JOB_LABEL = 'img.job';
/** Which deployment a container belongs to (its data directory): orphans are only ever looked for within it. */
export const SCOPE_LABEL = 'img.scope';

/**
 * The harmless device nodes every container has, bound into the build's new root: maintainer
 * scripts and %post need a real /dev/null and /dev/urandom, and the build cannot make them.
 */
const ROOTFS_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export interface SandboxSpec {
  jobId: string;
  image: string;
  cmd: string[];
  env: Record<string, string>;
  /** host path → container path */
  mounts: Array<{ host: string; container: string; readOnly: boolean }>;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  timeoutMs: number;
  /** Default: the build's list above. The boot check passes none: QEMU's emulation needs no privilege. */
  capabilities?: string[];
  /** Default `bridge` (the build downloads packages); `none` for the boot check, which runs the user's image. */
  network?: 'bridge' | 'none';
  /**
   * The work area's size in MiB: /work becomes a tmpfs of that size (a hard cap: a full one gives
   * "No space left on device"), /tmp a small one, and the rest of the container read-only, so a build
   * can write nowhere else but the host directories mounted into it. tmpfs pages count against the
   * container's memory, so `memoryBytes` must include this.
   */
  workAreaMb?: number;
  /** Pass output on as it arrives instead of in whole lines: a login prompt waits at the end of a line with no newline. */
  unbuffered?: boolean;
  /**
   * Inodes of the work area: a tmpfs has no other bound on the number of files, and each one costs
   * kernel memory. A build that makes more gets "No space left on device".
   */
  workAreaInodes?: number;
  /**
   * Process memory (anonymous memory, not the work area's tmpfs pages) the build may use. The
   * container's hard memory limit must hold the work area too (`memoryBytes`), so process memory
   * is watched apart through the engine's statistics, and a build over it is killed within about
   * two seconds: it cannot take the work area's share for its processes.
   */
  processMemoryBytes?: number;
  /** Bind the harmless device nodes into /work/rootfs/dev, where the build makes the image's root. */
  rootfsDevices?: boolean;
  /** Called once the container runs, with what the host may do inside it while it runs. */
  onStart?: (sandbox: RunningSandbox) => void;
  /** Standard error apart from standard output, for a command whose output is data (the package index). */
  onStderr?: (chunk: Buffer) => void;
}

/** The host's hold on a running build: commands of the builder image, run in the container. */
export interface RunningSandbox {
  /**
   * Runs a command of the builder image (its own, read-only binaries) inside the container, and gives
   * its standard output as a stream that respects back-pressure. Its standard error is kept, bounded,
   * for the message of a failure; `exited` resolves with the exit code once the output has ended.
   */
  exec(cmd: string[]): Promise<{ stdout: Readable; exited: Promise<{ exitCode: number; stderr: string }> }>;
  /** Kills the container now. */
  kill(): void;
}

export interface SandboxResult {
  exitCode: number;
  timedOut: boolean;
  oomKilled: boolean;
  /** The build's processes went over `processMemoryBytes` (their peak, in bytes) and it was killed. */
  processMemoryExceeded?: number;
}

export class DockerRunner {
  constructor(private readonly docker: Docker, private readonly log: Logger, private readonly scope: string) {}

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  /**
   * The host uid and gid the containers' root is mapped to, when the engine remaps user namespaces
   * (`userns-remap`); undefined when it does not, and container root is the host's root.
   */
  async remappedRoot(subuidFile = '/etc/subuid', subgidFile = '/etc/subgid'): Promise<{ uid: number; gid: number } | undefined> {
    const info = (await this.docker.info()) as { SecurityOptions?: string[]; DockerRootDir?: string };
    if (!(info.SecurityOptions ?? []).some((o) => o.includes('name=userns'))) return undefined;
    // The engine keeps a remapped daemon's data under <root>/<uid>.<gid>.
    const m = /\/(\d+)\.(\d+)\/?$/.exec(info.DockerRootDir ?? '');
    if (m) return { uid: Number(m[1]), gid: Number(m[2]) };
    const first = async (file: string) => {
      const line = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith('dockremap:'));
      return line ? Number(line.split(':')[1]) : undefined;
    };
    const uid = await first(subuidFile), gid = await first(subgidFile);
    if (uid === undefined || gid === undefined) throw new Error(`the Docker engine remaps user namespaces, but ${subuidFile} and ${subgidFile} say nothing of dockremap`);
    return { uid, gid };
  }

  async imageExists(tag: string): Promise<boolean> {
    try {
      await this.docker.getImage(tag).inspect();
      return true;
    } catch {
      return false;
    }
  }

  /** Removes containers that a previous image-creator left behind (crash, SIGKILL). */
  async removeOrphans(keep: (jobId: string) => boolean = () => false): Promise<number> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [MANAGED_LABEL, `${SCOPE_LABEL}=${this.scope}`] } });
    let removed = 0;
    for (const c of list) {
      const jobId = c.Labels[JOB_LABEL] ?? '';
      if (keep(jobId)) continue;
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      this.log.info({ container: c.Id.slice(0, 12), jobId }, 'removed an orphaned build container');
      removed++;
    }
    return removed;
  }

  /**
   * Removes every container of this job on the engine, whichever image-creator started it: one whose
   * build host died mid-build (its own data directory, so another scope) must not go on beside the
   * job's next attempt. Only the delivery that holds the job's message calls this.
   */
  async removeJobContainers(jobId: string): Promise<number> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [MANAGED_LABEL, `${JOB_LABEL}=${jobId}`] } });
    for (const c of list) {
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      this.log.info({ container: c.Id.slice(0, 12), jobId, scope: c.Labels[SCOPE_LABEL] }, 'removed an earlier attempt\'s build container');
    }
    return list.length;
  }

  async run(spec: SandboxSpec, onOutput: (chunk: Buffer) => void, signal?: AbortSignal): Promise<SandboxResult> {
    const container = await this.docker.createContainer({
      Image: spec.image,
      Cmd: spec.cmd,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: { [MANAGED_LABEL]: 'image-creator', [JOB_LABEL]: spec.jobId, [SCOPE_LABEL]: this.scope },
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        Binds: [
          ...spec.mounts.map((m) => `${m.host}:${m.container}:${m.readOnly ? 'ro' : 'rw'}`),
          // Read-only binds: writing to and reading from the nodes works, changing them does not.
          ...(spec.rootfsDevices ? ROOTFS_DEVICES.map((d) => `/dev/${d}:/work/rootfs/dev/${d}:ro`) : []),
        ],
        CapDrop: ['ALL'],
        CapAdd: spec.capabilities ?? SANDBOX_CAPABILITIES,
        SecurityOpt: ['no-new-privileges'],
        Memory: spec.memoryBytes,
        MemorySwap: spec.memoryBytes,
        NanoCpus: spec.nanoCpus,
        PidsLimit: spec.pidsLimit,
        NetworkMode: spec.network ?? 'bridge',
        Init: true,
        ...(spec.workAreaMb ? {
          ReadonlyRootfs: true,
          Tmpfs: { '/work': `rw,exec,dev,suid,mode=0755,size=${spec.workAreaMb}m${spec.workAreaInodes ? `,nr_inodes=${spec.workAreaInodes}` : ''}`, '/tmp': 'rw,exec,nosuid,nodev,mode=1777,size=64m,nr_inodes=65536' },
        } : {}),
      },
    });
    const id = container.id.slice(0, 12);
    let timedOut = false;
    let processMemoryExceeded: number | undefined;
    let stopWatching = () => {};
    let timer: NodeJS.Timeout | undefined;
    const stop = () => container.kill().catch(() => {});
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      // stdout and stderr arrive in chunks that can end mid-line; each keeps its own partial line,
      // so what reaches the log is whole lines and a %post's trace never runs into its output.
      const out = new PassThrough();
      const err = new PassThrough();
      const flushOut = spec.unbuffered ? passThrough(onOutput) : lineBuffered(onOutput);
      const toErr = spec.onStderr ?? onOutput;
      const flushErr = spec.unbuffered ? passThrough(toErr) : lineBuffered(toErr);
      out.on('data', flushOut.push);
      err.on('data', flushErr.push);
      container.modem.demuxStream(stream, out, err);
      await container.start();
      this.log.info({ container: id, jobId: spec.jobId }, 'build container started');
      spec.onStart?.({
        exec: async (cmd) => {
          const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: '0' });
          const raw = await exec.start({ hijack: true, stdin: false });
          const demux = new DockerDemux();
          raw.pipe(demux);
          raw.on('error', (err: Error) => demux.destroy(err));
          // A reader that gave up early (a refused output) lets the engine's socket go too.
          demux.once('close', () => raw.destroy());
          const exited = new Promise<{ exitCode: number; stderr: string }>((resolve, reject) => {
            demux.once('close', () => {
              exec.inspect().then((i) => resolve({ exitCode: i.ExitCode ?? -1, stderr: demux.stderr }), reject);
            });
          });
          exited.catch(() => {});
          return { stdout: demux, exited };
        },
        kill: () => void stop(),
      });
      timer = setTimeout(() => {
        timedOut = true;
        void stop();
      }, spec.timeoutMs);
      signal?.addEventListener('abort', () => void stop(), { once: true });
      if (spec.processMemoryBytes) {
        const limit = spec.processMemoryBytes;
        const pid = ((await container.inspect()) as { State: { Pid: number } }).State.Pid;
        // Two samples in a row over the limit (about two seconds): a build that holds the memory is
        // stopped as surely, and one sample skewed by the work area changing under it stops nothing.
        let over = 0;
        void watchProcessMemory(container, pid, (peak) => {
          over = peak > limit ? over + 1 : 0;
          if (over >= 2 && processMemoryExceeded === undefined) {
            processMemoryExceeded = peak;
            void stop();
          }
        }).then((close) => { stopWatching = close; }, (err: Error) => this.log.warn({ container: id, err: err.message }, 'could not watch the build\'s memory'));
      }
      // Output that arrived while the container was starting may already have asked it to stop.
      if (signal?.aborted) void stop();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      // Let the last bytes of output arrive before the stream is dropped.
      await new Promise<void>((r) => { if ((stream as unknown as { readableEnded?: boolean }).readableEnded) r(); else { stream.once('end', r); setTimeout(r, 2000); } });
      flushOut.end();
      flushErr.end();
      const info = await container.inspect();
      return { exitCode: StatusCode, timedOut, oomKilled: Boolean(info.State.OOMKilled), ...(processMemoryExceeded !== undefined ? { processMemoryExceeded } : {}) };
    } finally {
      clearTimeout(timer);
      stopWatching();
      await container.remove({ force: true }).catch((err: Error) => this.log.warn({ container: id, err: err.message }, 'could not remove build container'));
    }
  }
}

function passThrough(onOutput: (chunk: Buffer) => void): { push: (chunk: Buffer) => void; end: () => void } {
  return { push: onOutput, end: () => {} };
}

/** Passes on whole lines only; a line longer than 64 KiB is passed on in pieces of that size. */
function lineBuffered(onOutput: (chunk: Buffer) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let partial: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      const data = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
      const nl = data.lastIndexOf(0x0a);
      if (nl >= 0) onOutput(data.subarray(0, nl + 1));
      partial = nl >= 0 ? data.subarray(nl + 1) : data;
      if (partial.length > 65536) {
        onOutput(partial);
        partial = Buffer.alloc(0);
      }
    },
    end() {
      if (partial.length > 0) onOutput(Buffer.concat([partial, Buffer.from('\n')]));
      partial = Buffer.alloc(0);
    },
  };
}

/**
 * Docker's multiplexed exec stream → standard output, as a readable stream with back-pressure (a
 * plain demux writes as fast as the engine sends, buffering a whole disk image in memory). Standard
 * error is kept up to 16 KiB.
 */
class DockerDemux extends Transform {
  stderr = '';
  private pending: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (data.length >= 8) {
      const kind = data[0];
      const len = data.readUInt32BE(4);
      if (data.length < 8 + len) break;
      const payload = data.subarray(8, 8 + len);
      if (kind === 1) this.push(payload);
      else if (kind === 2 && this.stderr.length < 16384) this.stderr += payload.toString('utf8').slice(0, 16384 - this.stderr.length);
      data = data.subarray(8 + len);
    }
    this.pending = Buffer.from(data);
    done();
  }

  override _flush(done: TransformCallback): void {
    done(this.pending.length > 0 ? new Error('the exec stream ended inside a frame') : null);
  }
}

/**
 * Follows the engine's statistics of a container and reports what its processes hold: anonymous
 * memory plus shared memory (cgroup v1 `total_rss` + `total_shmem`, v2 `anon` + `shmem`), less what
 * its tmpfs mounts hold, since their pages count as shared memory too and are the work area's share.
 * Shared anonymous mappings, memfd and /dev/shm are thus the processes'. The tmpfs mounts are
 * measured by statfs through /proc/PID/root: numbers only, nothing read or followed.
 */
async function watchProcessMemory(container: Docker.Container, pid: number, onSample: (bytes: number) => void): Promise<() => void> {
  const stream = (await container.stats({ stream: true })) as unknown as Readable;
  const tmpfsUsed = async () => {
    let used = 0;
    for (const m of ['work', 'tmp', 'dev/shm']) {
      const st = await statfs(`/proc/${pid}/root/${m}`).catch(() => undefined);
      if (st) used += (st.blocks - st.bfree) * st.bsize;
    }
    return used;
  };
  let partial = '';
  let lastTmpfs = 0;
  stream.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      let stats: Record<string, number>;
      try {
        stats = (JSON.parse(line) as { memory_stats?: { stats?: Record<string, number> } }).memory_stats?.stats ?? {};
      } catch { continue; /* a partial or odd sample: the next one counts */ }
      const anon = stats.anon ?? stats.total_rss ?? stats.rss;
      const shmem = stats.shmem ?? stats.total_shmem ?? 0;
      if (typeof anon !== 'number') continue;
      // The sample was taken before the work area is measured: files deleted in between (the build
      // clears its root once the image is made) would count as the processes'. The larger of this
      // and the previous measurement, which was taken before the sample, holds them.
      void tmpfsUsed().then((inTmpfs) => {
        const held = Math.max(inTmpfs, lastTmpfs);
        lastTmpfs = inTmpfs;
        onSample(anon + Math.max(0, shmem - held));
      });
    }
    if (partial.length > 1 << 20) partial = '';
  });
  stream.on('error', () => {});
  return () => stream.destroy();
}
