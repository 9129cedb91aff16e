// Which architecture a disk or ISO image boots on, told from the image itself: the UEFI boot program
// it carries at the removable-media path (EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI), found by the short
// (8.3) name its FAT directory entry must have. For `img verify`, which must pick the QEMU that fits.
// Reads only: a raw image directly (its EFI system partition, or the first part of an ISO), any other
// format through `qemu-img dd` into a temporary raw copy of its first part.
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BootTarget } from './verify-boot.ts';

/** The FAT short names of the removable-media boot programs, by architecture. */
const EFI_NAMES: ReadonlyArray<[arch: string, name: Buffer]> = [
  ['amd64', Buffer.from('BOOTX64 EFI', 'latin1')],
  ['arm64', Buffer.from('BOOTAA64EFI', 'latin1')],
];
/** GPT's type of an EFI system partition, as stored on disk (mixed-endian GUID C12A7328-F81F-11D2-BA4B-00A0C93EC93B). */
const ESP_GUID = Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex');
/** How much of an image is read at most: IMG's boot partitions and ISOs hold their EFI program well within it. */
const SCAN_BYTES = 1024 * 1048576;
/** How much of a qcow2, vmdk or vdi disk is copied out to be read: its boot partition comes first. */
const HEAD_MIB = 320;
const CHUNK = 4 * 1048576;

export interface ArchGuess {
  arch?: string;
  /** How it was told, or why it could not be. */
  how: string;
}

/** Byte ranges of a raw disk's EFI system partitions (MBR type 0xEF, or GPT's ESP type); none when it has none. */
async function espRanges(file: string): Promise<Array<{ start: number; length: number }>> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(34 * 512);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length < 1024 || b.readUInt16LE(510) !== 0xaa55) return [];
    const out: Array<{ start: number; length: number }> = [];
    if (b.subarray(512, 520).toString('latin1') === 'EFI PART') {
      const entries = Number(b.readBigUInt64LE(512 + 72));
      const count = b.readUInt32LE(512 + 80);
      const size = b.readUInt32LE(512 + 84);
      if (size < 128 || size > 4096) return [];
      const table = Buffer.alloc(Math.min(count, 128) * size);
      await fh.read(table, 0, table.length, entries * 512);
      for (let i = 0; i + size <= table.length; i += size) {
        if (!table.subarray(i, i + 16).equals(ESP_GUID)) continue;
        const first = Number(table.readBigUInt64LE(i + 32));
        const last = Number(table.readBigUInt64LE(i + 40));
        out.push({ start: first * 512, length: (last - first + 1) * 512 });
      }
      return out;
    }
    for (let i = 0; i < 4; i++) {
      const e = 446 + i * 16;
      if (b[e + 4] === 0xef) out.push({ start: b.readUInt32LE(e + 8) * 512, length: b.readUInt32LE(e + 12) * 512 });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Which of the boot programs' short names occur, 32-byte aligned as directory entries are, in the file's range. */
async function namesIn(file: string, start: number, length: number): Promise<Set<string>> {
  const found = new Set<string>();
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    const end = start + Math.min(length, SCAN_BYTES);
    // Chunks start 32-byte aligned relative to the range, so an entry never straddles two.
    for (let pos = start; pos < end; pos += CHUNK) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      for (const [arch, name] of EFI_NAMES) {
        for (let at = chunk.indexOf(name); at >= 0; at = chunk.indexOf(name, at + 1)) {
          if ((pos + at - start) % 32 === 0) {
            found.add(arch);
            break;
          }
        }
      }
    }
  } finally {
    await fh.close();
  }
  return found;
}

function verdict(found: Set<string>, where: string): ArchGuess {
  if (found.size === 1) {
    const arch = [...found][0]!;
    return { arch, how: `${where} holds EFI/BOOT/${arch === 'arm64' ? 'BOOTAA64' : 'BOOTX64'}.EFI` };
  }
  if (found.size > 1) return { how: `${where} holds UEFI boot programs for ${[...found].join(' and ')}` };
  return { how: `${where} holds no UEFI boot program (EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI)` };
}

async function guessRaw(file: string, target: BootTarget): Promise<ArchGuess> {
  const size = (await stat(file)).size;
  if (target.media === 'cdrom') return verdict(await namesIn(file, 0, size), 'the ISO');
  const esps = await espRanges(file);
  if (esps.length === 0) return verdict(await namesIn(file, 0, size), 'the disk');
  const found = new Set<string>();
  for (const p of esps) for (const a of await namesIn(file, p.start, p.length)) found.add(a);
  return verdict(found, 'its EFI system partition');
}

/**
 * The architecture `file` boots on. A disk that is not raw is read through `qemu-img dd` (from Debian's
 * qemu-utils), which copies its first part into a temporary raw file.
 */
export async function detectArchitecture(file: string, target: BootTarget, qemuImg = 'qemu-img'): Promise<ArchGuess> {
  if (target.format === 'raw') return guessRaw(file, target);
  const dir = await mkdtemp(join(tmpdir(), 'img-verify-'));
  try {
    const raw = join(dir, 'head.raw');
    await promisify(execFile)(qemuImg, ['dd', '-f', target.format, '-O', 'raw', 'bs=1M', `count=${HEAD_MIB}`, `if=${file}`, `of=${raw}`]);
    return await guessRaw(raw, { format: 'raw', media: 'disk' });
  } catch (err) {
    return { how: `its ${target.format} contents could not be read with ${qemuImg} dd: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
