// What each image type needs from the build plan and gets from the builder: the file extension,
// whether it boots (and how the boot check starts it), and the packages a bootable image cannot
// do without. Pure functions of the plan, so the rules can be read and tested in one place.
import type { ImageType } from '@img/shared/contracts';
import { DEFAULT_ARCH, findArchitecture, type BuildPlan } from '@img/shared/kickstart';
import type { BootTarget } from '@img/shared/boot';

export interface ImageKind {
  extension: string;
  /** Needs `part /`: its size is the size of the file system the builder writes. */
  needsRoot: boolean;
  /** Boots on its own: needs a kernel and an init, and is checked by booting it. */
  boot?: BootTarget;
  /** A live system: its initramfs must carry live-boot. */
  live: boolean;
}

export const imageKinds: Record<ImageType, ImageKind> = {
  tar: { extension: 'tar.zst', needsRoot: false, live: false },
  fs: { extension: 'tar.zst', needsRoot: false, live: false },
  loop: { extension: 'img', needsRoot: true, live: false },
  raw: { extension: 'raw', needsRoot: true, live: false, boot: { format: 'raw', media: 'disk' } },
  qcow2: { extension: 'qcow2', needsRoot: true, live: false, boot: { format: 'qcow2', media: 'disk' } },
  vmdk: { extension: 'vmdk', needsRoot: true, live: false, boot: { format: 'vmdk', media: 'disk' } },
  vdi: { extension: 'vdi', needsRoot: true, live: false, boot: { format: 'vdi', media: 'disk' } },
  livecd: { extension: 'iso', needsRoot: false, live: true, boot: { format: 'raw', media: 'cdrom' } },
  // The same hybrid ISO; its boot check starts it as a disk, the way a USB stick boots.
  liveusb: { extension: 'iso', needsRoot: false, live: true, boot: { format: 'raw', media: 'disk' } },
};

/** Root file systems the builder can write from a directory, without mounting anything. */
const ROOT_FSTYPES = ['ext4', 'ext3', 'ext2'];
const INIT = 'systemd-sysv';
/** Packages that provide /sbin/init in Debian. */
const INITS = ['systemd-sysv', 'sysvinit-core', 'runit-init', 'openrc'];

export interface PreparedBuild {
  /** A kickstart that cannot give this image type: the message names what is missing. */
  error?: string;
  include: string[];
  /** What was added and why, for the build log. */
  notes: string[];
  /** Settings for the sandbox script's assembly step. */
  env: Record<string, string>;
}

export function prepareBuild(plan: BuildPlan, type: ImageType, requested: string[]): PreparedBuild {
  const kind = imageKinds[type];
  const include = [...new Set(requested)];
  const notes: string[] = [];
  const excluded = new Set(plan.packages.exclude);
  const env: Record<string, string> = {
    IMG_BOOT_APPEND: plan.bootloader.append ?? '',
    IMG_BOOT_APPEND_GRUB: grubKernelArgs(plan.bootloader.append ?? ''),
    IMG_BOOT_TIMEOUT: String(plan.bootloader.timeout ?? 0),
  };

  if (kind.needsRoot) {
    const root = plan.partitions.find((p) => p.mountpoint === '/');
    if (!root) {
      return { include, notes, env, error: `the image type '${type}' needs a root partition: add a line such as \`part / --size=1024 --fstype=ext4\` (size in MiB) to the kickstart` };
    }
    if (!ROOT_FSTYPES.includes(root.fstype)) {
      return { include, notes, env, error: `part / --fstype=${root.fstype}: the builder writes file systems without mounting them, which it can do for ${ROOT_FSTYPES.join(', ')} only` };
    }
    const others = plan.partitions.filter((p) => p.mountpoint !== '/').map((p) => `part ${p.mountpoint}`);
    if (others.length > 0) {
      return { include, notes, env, error: `${others.join(', ')}: only the root partition (part /) is built; put everything in it` };
    }
    if (root.sizeMiB === undefined) {
      return { include, notes, env, error: `the image type '${type}' writes a file system of the root partition's size: give it, e.g. \`part / --size=2048\` (MiB)` };
    }
    env.IMG_ROOT_SIZE_MIB = String(root.sizeMiB);
    env.IMG_ROOT_FSTYPE = root.fstype;
    if (root.label !== undefined) env.IMG_ROOT_LABEL = root.label;
  }

  const add = (pkg: string, why: string) => {
    if (include.includes(pkg) || excluded.has(pkg)) return;
    include.push(pkg);
    notes.push(`IMG: adding ${pkg} to the packages: ${why}`);
  };
  if (kind.boot) {
    const kernel = (findArchitecture(plan.architecture) ?? findArchitecture(DEFAULT_ARCH)!).kernel;
    if (!include.some((p) => p.startsWith('linux-image-'))) add(kernel, `a ${type} image boots, and the kickstart installs no kernel`);
    if (!include.some((p) => INITS.includes(p))) add(INIT, `a ${type} image boots, and the kickstart installs no init system`);
    // initramfs-tools compresses with zstd by default in every suite IMG builds, and falls back to
    // gzip (a larger, slower initramfs) when the image lacks the zstd program.
    add('zstd', `a ${type} image boots from an initramfs, which initramfs-tools compresses with zstd when the image has it`);
  }
  if (kind.live) add('live-boot', `a ${type} image boots into a live system, which live-boot mounts from the initramfs`);
  if (plan.ntp && 'servers' in plan.ntp) add('systemd-timesyncd', 'the kickstart names NTP servers, and systemd-timesyncd is what keeps the clock by them');
  return { include, notes, env };
}

/**
 * `bootloader --append` as words of a GRUB `linux` line. GRUB's script language gives `$`, `;`,
 * `#`, quotes, braces and backslashes meanings of their own, so each kernel argument is split the
 * way the kernel splits them (on blanks outside double quotes, the quotes removed) and written in
 * GRUB's single quotes, where nothing is special. GRUB puts double quotes back around an argument
 * that holds a blank when it hands the line to the kernel.
 */
export function grubKernelArgs(append: string): string {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  let any = false;
  for (const ch of append) {
    if (ch === '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (any) words.push(word);
      word = '';
      any = false;
    } else {
      word += ch;
      any = true;
    }
  }
  if (any) words.push(word);
  return words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
}
