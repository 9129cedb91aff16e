// Step 3: a disk or ISO image is only done when it boots. QEMU runs in a sandbox container of its
// own with the image mounted read-only (sandbox-qemu.ts).
import type { ImageMessage, LinkMessage } from '@img/shared/contracts';
import type { Logger } from '@img/shared/logging';
import type { Config } from '../config.ts';
import type { DockerRunner } from '../docker-runner.ts';
import type { Cancellations } from '../cancellations.ts';
import type { ImageKind } from '../image-types.ts';
import { DEFAULT_MARKER, plainConsoleText, verifyBoot, type QemuLauncher } from '@img/shared/boot';
import { sandboxQemuLauncher } from '../sandbox-qemu.ts';
import { BuildFailure } from './failure.ts';
import type { JobLog } from './job-log.ts';

/** Guest memory of the boot check. */
const BOOT_MEMORY_MB = 1024;

export interface BootCheckDeps {
  config: Config;
  runner: DockerRunner;
  builderImage: string;
  cancellations: Cancellations;
  log: Logger;
  /** Where the boot check's QEMU runs; default: a sandbox container from the builder image. */
  bootLauncher?: (jobId: string) => QemuLauncher;
}

/** Boots the image; `undefined` when the type is not booted (or the check is off), `'cancelled'` when cancelled. */
export async function bootCheck(deps: BootCheckDeps, msg: ImageMessage, kind: ImageKind, file: string, jobLog: JobLog): Promise<LinkMessage['verified'] | 'cancelled'> {
  if (!kind.boot || !deps.config.IMG_VERIFY_BOOT) return undefined;
  const { config } = deps;
  // A kickstart that writes the marker is held to it; any other passes on a login prompt.
  const marker = msg.ksfile.includes(DEFAULT_MARKER) ? DEFAULT_MARKER : undefined;
  jobLog.write(`\nIMG: boot check: starting the image in QEMU (emulated, no network), waiting up to ${config.IMG_VERIFY_TIMEOUT_S} s for ${marker ? `the marker ${marker}` : 'a login prompt'} on the serial console\n`);
  const launch = deps.bootLauncher?.(msg.id) ?? sandboxQemuLauncher({
    runner: deps.runner, image: deps.builderImage, jobId: msg.id, memoryMb: BOOT_MEMORY_MB, nanoCpus: Math.round(config.IMG_BUILD_CPUS * 1e9),
  });
  // A cancel during the check stops its container the same way it stops a build's.
  const cancelled = deps.cancellations.start(msg.id);
  const boot = await verifyBoot({
    file, target: { ...kind.boot, arch: msg.arch ?? 'amd64' }, timeoutS: config.IMG_VERIFY_TIMEOUT_S, memoryMb: BOOT_MEMORY_MB, launch, ...(marker ? { marker } : {}),
    onConsole: (chunk) => jobLog.write(plainConsoleText(chunk.toString('utf8'))),
    signal: cancelled,
  }).finally(() => deps.cancellations.finish(msg.id));
  if (cancelled.aborted) {
    jobLog.write('\nIMG: the build was cancelled during its boot check, and QEMU stopped.\n');
    return 'cancelled';
  }
  jobLog.write(`\nIMG: boot check ${boot.ok ? 'passed' : 'FAILED'}: ${boot.detail}\n`);
  deps.log.info({ jobId: msg.id, ok: boot.ok, seconds: boot.seconds }, 'boot check');
  if (!boot.ok) throw new BuildFailure('boot_failed', `the image did not boot: ${boot.detail}`, { phase: 'verifying', excerpt: boot.tail });
  return { ok: true, detail: boot.detail, seconds: boot.seconds };
}
