// Runs the boot check's QEMU in a throwaway container from the builder image, so nothing of the
// user's image ever runs on the host: no network at all, no capabilities, the image mounted
// read-only, the container read-only but for a capped tmpfs, and the same labels as a build so a crashed run's container is found and removed.
import { basename } from 'node:path';
import type { DockerRunner } from './docker-runner.ts';
import type { QemuLauncher } from '@img/shared/boot';

/** What a booted guest may write to its disk during the check. */
const BOOT_OVERLAY_MB = 1024;

export interface SandboxQemuOptions {
  runner: DockerRunner;
  image: string;
  jobId: string;
  /** Guest memory; the container gets this plus room for QEMU itself. */
  memoryMb: number;
  nanoCpus: number;
}

export function sandboxQemuLauncher(o: SandboxQemuOptions): QemuLauncher {
  return async (run, onOutput, signal) => {
    const inside = `/img/${basename(run.file)}`;
    const { exitCode } = await o.runner.run({
      jobId: o.jobId,
      image: o.image,
      cmd: [run.binary, ...run.args(inside)],
      // QEMU's -snapshot overlay (what the guest writes) goes to TMPDIR: a capped tmpfs, not the
      // engine's storage on the host's disk. A guest that writes more sees its disk fail.
      env: { TMPDIR: '/work' },
      mounts: [{ host: run.file, container: inside, readOnly: true }],
      workAreaMb: BOOT_OVERLAY_MB,
      workAreaInodes: 10_000,
      memoryBytes: (o.memoryMb + 512 + BOOT_OVERLAY_MB) * 1024 * 1024,
      nanoCpus: o.nanoCpus,
      pidsLimit: 256,
      timeoutMs: run.timeoutMs,
      capabilities: [],
      network: 'none',
      unbuffered: true,
    }, onOutput, signal);
    return { exitCode };
  };
}
