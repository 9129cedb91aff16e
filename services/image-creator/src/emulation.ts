// Which foreign architectures this build host can run programs of. An arm64 build on an amd64 host
// runs its programs (dpkg's maintainer scripts, the %post) through the kernel's binfmt_misc
// registration of Debian's qemu-user-static. It must have the F (fix-binary) flag: the kernel then
// opens the emulator once, at registration, so it works inside the build's container and its new root,
// neither of which contains it, and the sandbox needs no privilege for it.
import { readFile } from 'node:fs/promises';
import { ARCHITECTURES, findArchitecture } from '@img/shared/kickstart';

/** binfmt_misc's entry name for each emulated architecture (as qemu-user-static registers it). */
const BINFMT_NAMES: Readonly<Record<string, string>> = { arm64: 'qemu-aarch64' };

export interface EmulationState {
  arch: string;
  ok: boolean;
  /** What is wrong and how to fix it, when not ok. */
  problem?: string;
}

export async function emulationState(arch: string, binfmtDir = '/proc/sys/fs/binfmt_misc'): Promise<EmulationState> {
  if (!findArchitecture(arch)?.emulated) return { arch, ok: true };
  const name = BINFMT_NAMES[arch] ?? arch;
  const fix = `on the build host: apt-get install qemu-user-static binfmt-support; update-binfmts --enable ${name} (deploy/local/up.sh does this)`;
  const entry = await readFile(`${binfmtDir}/${name}`, 'utf8').catch(() => undefined);
  if (entry === undefined) return { arch, ok: false, problem: `this build host cannot run ${arch} programs: binfmt_misc has no ${name} entry; ${fix}` };
  if (!/^enabled$/m.test(entry)) return { arch, ok: false, problem: `this build host cannot run ${arch} programs: its binfmt_misc entry ${name} is disabled; ${fix}` };
  const flags = /^flags:\s*(\S*)/m.exec(entry)?.[1] ?? '';
  if (!flags.includes('F')) {
    return { arch, ok: false, problem: `the binfmt_misc entry ${name} lacks the F (fix-binary) flag, so the build's container, which holds no emulator, cannot run ${arch} programs; ${fix}` };
  }
  return { arch, ok: true };
}

/** Every emulated architecture's state, for the start-up log. */
export function emulationStates(binfmtDir?: string): Promise<EmulationState[]> {
  return Promise.all(ARCHITECTURES.filter((a) => a.emulated).map((a) => emulationState(a.name, binfmtDir)));
}
