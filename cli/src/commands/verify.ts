// `img verify FILE`: boots a disk or ISO image in QEMU on this machine and waits for the boot
// marker (or a login prompt) on its serial console. The same check image-creator runs after a build.
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DEFAULT_BOOT_TIMEOUT_S, DEFAULT_MARKER, detectArchitecture, detectImage, hostQemuLauncher, qemuBinary, verifyBoot, type BootMedia,
} from '@img/shared/boot';
import { ARCH_NAMES } from '@img/shared/kickstart';

const USAGE = `usage: img verify FILE [--timeout S] [--marker TEXT] [--as disk|cdrom] [--arch amd64|arm64] [--uefi] [--console]
  Boots FILE (raw, qcow2, vmdk or vdi disk, or ISO) in QEMU with emulation only, no network and a
  throwaway overlay (the file is never changed). Passes when the marker appears on the serial
  console; without --marker, when "${DEFAULT_MARKER}" or a login prompt appears.
  --timeout S     give up after S seconds (default ${DEFAULT_BOOT_TIMEOUT_S})
  --marker TEXT   only this text passes
  --as disk|cdrom how to attach the file (default: an ISO as a CD, anything else as a disk)
  --arch ARCH     the image's architecture (default: told from the UEFI boot program it carries,
                  EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI); arm64 boots on QEMU's virt machine with
                  UEFI firmware (qemu-system-arm and qemu-efi-aarch64), amd64 on a PC
  --uefi          amd64: boot with UEFI firmware (OVMF) instead of the BIOS (arm64 always boots with UEFI)
  --console       print the serial console as it arrives
Exit status: 0 passed, 1 did not pass (the last console lines are printed), 2 usage or cannot run.
`;

export async function run(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        timeout: { type: 'string' }, marker: { type: 'string' }, as: { type: 'string' }, arch: { type: 'string' },
        uefi: { type: 'boolean' }, console: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true, allowPositionals: true,
    }));
  } catch (e) {
    process.stderr.write(`img verify: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const file = positionals[0]!;
  const timeoutS = values.timeout === undefined ? DEFAULT_BOOT_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    process.stderr.write(`img verify: --timeout must be a number of seconds above 0\n${USAGE}`);
    return 2;
  }
  if (values.marker !== undefined && values.marker.trim() === '') {
    process.stderr.write(`img verify: --marker must not be empty\n${USAGE}`);
    return 2;
  }
  if (values.as !== undefined && values.as !== 'disk' && values.as !== 'cdrom') {
    process.stderr.write(`img verify: --as is disk or cdrom\n${USAGE}`);
    return 2;
  }
  if (values.arch !== undefined && !ARCH_NAMES.includes(values.arch)) {
    process.stderr.write(`img verify: --arch is one of ${ARCH_NAMES.join(', ')}\n${USAGE}`);
    return 2;
  }
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a regular file');
  } catch (e) {
    process.stderr.write(`img verify: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }

  const found = await detectImage(file);
  if (found.backingFile) {
    process.stderr.write(`img verify: ${file} is a qcow2 image with a backing file; convert it to a standalone image first (qemu-img convert)\n`);
    return 2;
  }
  const media = (values.as as BootMedia | undefined) ?? found.media;
  if (media === 'cdrom' && found.format !== 'raw') {
    process.stderr.write(`img verify: a ${found.format} image cannot be attached as a CD\n`);
    return 2;
  }
  let arch = values.arch;
  if (arch === undefined) {
    const guess = await detectArchitecture(file, { format: found.format, media });
    if (!guess.arch) {
      process.stderr.write(`img verify: cannot tell the architecture of ${file}: ${guess.how}; pass --arch\n`);
      return 2;
    }
    arch = guess.arch;
    process.stderr.write(`img verify: ${arch}: ${guess.how}\n`);
  }
  const firmware = arch === 'arm64' || values.uefi ? 'UEFI' : 'BIOS';
  const want = values.marker !== undefined ? `"${values.marker}"` : `"${DEFAULT_MARKER}" or a login prompt`;
  process.stderr.write(`img verify: booting ${file} (${arch} ${found.format} ${media === 'cdrom' ? 'CD' : 'disk'}, ${firmware}) in ${qemuBinary(arch)}, waiting up to ${timeoutS} s for ${want}\n`);

  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let result;
  try {
    result = await verifyBoot({
      file, target: { format: found.format, media, arch }, timeoutS, uefi: Boolean(values.uefi), launch: hostQemuLauncher(), signal: stop.signal,
      ...(values.marker !== undefined ? { marker: values.marker } : {}),
      ...(values.console ? { onConsole: (chunk: Buffer) => { process.stderr.write(chunk); } } : {}),
    });
  } catch (e) {
    process.stderr.write(`img verify: ${(e as Error).message}\n`);
    return 2;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  if (result.ok) {
    process.stdout.write(`PASS: ${result.detail}\n`);
    return 0;
  }
  const lines = result.tail.length > 0 ? result.tail.map((l) => `  | ${l}`).join('\n') : '  (nothing)';
  process.stdout.write(`FAIL: ${result.detail}\nlast lines of the serial console:\n${lines}\n`);
  return 1;
}
