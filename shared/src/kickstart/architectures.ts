// The architectures IMG builds, in one table beside the suites': what the request says, what the
// image's programs are, which kernel a bootable image gets, and how it boots. Everything that knows
// about architectures asks here.

export interface Architecture {
  /** Debian's name, as requests, templates and `dpkg --print-architecture` say it. */
  name: string;
  /** The kernel's name (`uname -m`), the ELF machine programs are built for. */
  machine: string;
  /** ELF e_machine of its programs. */
  elfMachine: number;
  /** The kernel a bootable image gets when the kickstart installs none. */
  kernel: string;
  /** arm64 has no BIOS: its disks and ISOs boot through UEFI only. */
  firmware: 'bios+uefi' | 'uefi';
  /** Where its programs run on an amd64 build host. */
  emulated: boolean;
}

export const ARCHITECTURES: readonly Architecture[] = [
  { name: 'amd64', machine: 'x86_64', elfMachine: 62, kernel: 'linux-image-amd64', firmware: 'bios+uefi', emulated: false },
  { name: 'arm64', machine: 'aarch64', elfMachine: 183, kernel: 'linux-image-arm64', firmware: 'uefi', emulated: true },
];

/** The architecture of a request that names none. */
export const DEFAULT_ARCH = 'amd64';

export const ARCH_NAMES: readonly string[] = ARCHITECTURES.map((a) => a.name);

export function findArchitecture(name: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.name === name);
}

/** "amd64 (x86_64), arm64 (aarch64)": for errors and the form. */
export function offeredArchitectures(): string {
  return ARCHITECTURES.map((a) => `${a.name} (${a.machine})`).join(', ');
}

/** The error for an architecture IMG does not build, naming those it does. */
export function unknownArchitectureMessage(name: string): string {
  return `unknown architecture '${name.slice(0, 40)}'; IMG builds ${offeredArchitectures()}`;
}
