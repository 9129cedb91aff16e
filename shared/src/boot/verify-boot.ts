// The boot check: start a disk or ISO image in QEMU with a serial console and pass when the marker
// the kickstart's %post prints appears there (or, without an explicit marker, a login prompt),
// within a time limit. Used by image-creator after a build and by `img verify`. Where QEMU runs is
// the caller's choice (a launcher): image-creator starts it in a sandbox container, the CLI on the
// machine it runs on.
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export type DiskFormat = 'raw' | 'qcow2' | 'vmdk' | 'vdi';
export type BootMedia = 'disk' | 'cdrom';
export interface BootTarget {
  format: DiskFormat;
  media: BootMedia;
  /** The image's architecture; absent: amd64. */
  arch?: string;
}

export const DEFAULT_MARKER = 'IMG-BOOT-OK';
export const DEFAULT_BOOT_TIMEOUT_S = 300;
export const DEFAULT_BOOT_MEMORY_MB = 1024;
/** Where Debian's ovmf package puts the UEFI firmware, on the host and in the builder image. */
export const OVMF_PATH = '/usr/share/ovmf/OVMF.fd';
/** Debian's qemu-efi-aarch64: arm64's UEFI firmware for QEMU's `virt` machine (arm64 has no BIOS). */
export const AAVMF_PATH = '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd';

/**
 * The QEMU system emulator of an architecture, and its machine. arm64 boots on `virt` with a
 * Cortex-A57: QEMU's default `max` CPU emulates pointer authentication in software, and Debian's
 * arm64 systemd then starts so slowly that its serial getty times out.
 */
export function qemuBinary(arch = 'amd64'): string {
  return arch === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

/**
 * Starts QEMU with the arguments `args(path)` gives for the path the image has where QEMU runs,
 * streams its console output, and stops it when `signal` aborts.
 */
export type QemuLauncher = (
  run: { file: string; binary: string; args: (path: string) => string[]; timeoutMs: number },
  onOutput: (chunk: Buffer) => void,
  signal: AbortSignal,
) => Promise<{ exitCode: number | null }>;

export interface VerifyOptions {
  file: string;
  target: BootTarget;
  /** Only this text passes. Absent: the default marker or a login prompt. */
  marker?: string;
  timeoutS: number;
  memoryMb?: number;
  uefi?: boolean;
  launch: QemuLauncher;
  /** The serial console as it arrives, for a log. */
  onConsole?: (chunk: Buffer) => void;
  /** Stops the check early (a cancelled job). */
  signal?: AbortSignal;
}

export interface VerifyResult {
  ok: boolean;
  /** What passed the check. */
  seen?: 'marker' | 'login';
  detail: string;
  seconds: number;
  /** The last lines of the serial console. */
  tail: string[];
}

/** QEMU's arguments: emulation only (no KVM on the build hosts), no network, no display, and a throwaway overlay so the image file is never written. */
export function qemuArgs(target: BootTarget, path: string, opts: { memoryMb?: number; uefi?: boolean } = {}): string[] {
  // A comma inside a -drive value is written as two commas.
  const file = path.replaceAll(',', ',,');
  const arm64 = target.arch === 'arm64';
  const args = [
    ...(arm64 ? ['-machine', 'virt,accel=tcg', '-cpu', 'cortex-a57'] : ['-machine', 'pc,accel=tcg']),
    '-m', String(opts.memoryMb ?? DEFAULT_BOOT_MEMORY_MB), '-smp', '1',
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nic', 'none', '-snapshot', '-no-reboot',
  ];
  if (arm64) args.push('-bios', AAVMF_PATH);
  else if (opts.uefi) args.push('-bios', OVMF_PATH);
  if (target.media === 'cdrom') {
    // `virt` has no IDE: its CD drive hangs off a virtio SCSI controller.
    if (arm64) args.push('-drive', `file=${file},if=none,id=cd,media=cdrom,readonly=on,format=raw`, '-device', 'virtio-scsi-pci', '-device', 'scsi-cd,drive=cd');
    else args.push('-drive', `file=${file},format=raw,media=cdrom,readonly=on`, '-boot', 'd');
  } else args.push('-drive', `file=${file},format=${target.format},if=virtio`);
  return args;
}

/** A console's text without terminal escape sequences and carriage returns: fit for a log file or a report. */
export function plainConsoleText(text: string): string {
  return text.replace(/\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>c]|\r/g, '');
}

/** Reads the serial console: lines kept for the report, each checked for the marker or a login prompt. */
export class ConsoleWatcher {
  private partial = '';
  private readonly lines: string[] = [];
  /** A UTF-8 character may straddle two chunks. */
  private readonly decoder = new StringDecoder('utf8');
  found?: { what: 'marker' | 'login'; line: string };

  constructor(private readonly marker: string | undefined, private readonly keep = 40) {}

  push(chunk: Buffer): void {
    const text = this.partial + plainConsoleText(this.decoder.write(chunk));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      // QEMU's own note that the check stopped it says nothing about the guest.
      if (/^qemu-system-\S+: terminating on signal/.test(line)) continue;
      this.check(line);
      this.lines.push(line);
      if (this.lines.length > this.keep) this.lines.shift();
    }
    // A login prompt waits for input at the end of a line that has no newline yet.
    this.check(this.partial);
  }

  private check(line: string): void {
    if (this.found) return;
    if (this.marker !== undefined) {
      if (line.includes(this.marker)) this.found = { what: 'marker', line: line.trim() };
      return;
    }
    if (line.includes(DEFAULT_MARKER)) this.found = { what: 'marker', line: line.trim() };
    else if (/(^|\s)login:\s*$/.test(line)) this.found = { what: 'login', line: line.trim() };
  }

  tail(n = this.keep): string[] {
    const all = this.partial.trim() ? [...this.lines, this.partial] : this.lines;
    return all.slice(-n);
  }
}

export async function verifyBoot(opts: VerifyOptions): Promise<VerifyResult> {
  const watcher = new ConsoleWatcher(opts.marker);
  const stop = new AbortController();
  const started = Date.now();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; stop.abort(); }, opts.timeoutS * 1000);
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const want = opts.marker !== undefined ? `"${opts.marker}"` : `"${DEFAULT_MARKER}" or a login prompt`;
  let exitCode: number | null = null;
  try {
    ({ exitCode } = await opts.launch({
      file: opts.file,
      binary: qemuBinary(opts.target.arch),
      args: (path) => qemuArgs(opts.target, path, { memoryMb: opts.memoryMb, uefi: opts.uefi }),
      // The launcher's own limit only guards against a check that fails to stop it.
      timeoutMs: (opts.timeoutS + 60) * 1000,
    }, (chunk) => {
      opts.onConsole?.(chunk);
      watcher.push(chunk);
      if (watcher.found) stop.abort();
    }, stop.signal));
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const tail = watcher.tail();
  if (watcher.found) {
    const what = watcher.found.what === 'marker' ? `the marker "${opts.marker ?? DEFAULT_MARKER}"` : `a login prompt ("${watcher.found.line}")`;
    return { ok: true, seen: watcher.found.what, seconds, tail, detail: `${what} appeared on the serial console after ${seconds} s` };
  }
  let detail: string;
  if (opts.signal?.aborted) detail = `the boot check was stopped after ${seconds} s`;
  else if (timedOut) detail = `no ${want} on the serial console within ${opts.timeoutS} s`;
  else detail = `QEMU ended (exit ${exitCode ?? 'by a signal'}) after ${seconds} s without ${want} on the serial console`;
  if (!opts.signal?.aborted && !tail.some((l) => l.trim() !== '')) {
    detail += `: the console stayed silent, so the firmware found nothing it could boot, or the boot loader and kernel do not write to the serial port (${opts.target.arch === 'arm64' ? 'console=ttyAMA0' : 'console=ttyS0'})`;
  }
  return { ok: false, seconds, tail, detail };
}

/** Tells the format of an image file from its first bytes, as QEMU would, so it can be named explicitly. */
export async function detectImage(path: string): Promise<BootTarget & { backingFile: boolean }> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(0x8006);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const buf = head.subarray(0, bytesRead);
    if (buf.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) {
      // A qcow2 image can name a backing file anywhere on the machine that boots it.
      return { format: 'qcow2', media: 'disk', backingFile: buf.length >= 16 && buf.readBigUInt64BE(8) !== 0n };
    }
    if (buf.subarray(0, 4).toString('latin1') === 'KDMV') return { format: 'vmdk', media: 'disk', backingFile: false };
    if (buf.length >= 0x44 && buf.readUInt32LE(0x40) === 0xbeda107f) return { format: 'vdi', media: 'disk', backingFile: false };
    if (buf.subarray(0x8001, 0x8006).toString('latin1') === 'CD001') return { format: 'raw', media: 'cdrom', backingFile: false };
    return { format: 'raw', media: 'disk', backingFile: false };
  } finally {
    await fh.close();
  }
}

/** Runs QEMU on this machine: for `img verify`, where the image is the user's own file. */
export function hostQemuLauncher(): QemuLauncher {
  return (run, onOutput, signal) => new Promise((resolve, reject) => {
    const binary = run.binary;
    const child = spawn(binary, run.args(run.file), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    };
    const limit = setTimeout(stop, run.timeoutMs);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    child.once('error', (err) => {
      clearTimeout(limit);
      signal.removeEventListener('abort', stop);
      reject(new Error(`could not start ${binary}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(limit);
      clearTimeout(killer);
      signal.removeEventListener('abort', stop);
      resolve({ exitCode: code });
    });
  });
}
