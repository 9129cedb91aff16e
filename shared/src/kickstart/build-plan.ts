// The build plan: what image-creator needs from a kickstart, produced by the one kickstart parser.
// Debian-flavoured: packages are Debian package names, groups resolve through a template's group table.

export interface PlanRepo {
  name: string;
  /** Absent: the builder's default Debian mirror (the operator's IMG_DEBIAN_MIRROR, else the tool's own default). */
  baseurl?: string;
  suite: string;
  components: string[];
  /** An armored or binary OpenPGP key URL or inline key, when the repository is not signed by Debian's keyring. */
  key?: string;
}

export interface PlanUser {
  name: string;
  /** Plain text unless `iscrypted`; absent: the account has no password (locked), as useradd leaves it. */
  password?: string;
  iscrypted: boolean;
  /** Supplementary groups; those the image lacks are created. */
  groups: string[];
  /** authorized_keys lines. */
  sshkeys: string[];
  /** Absent: /home/NAME. */
  homedir?: string;
  /** Absent: useradd's default (/bin/sh on Debian). */
  shell?: string;
  uid?: number;
  gecos?: string;
}

export interface PlanPartition {
  mountpoint: string;
  /** Absent: `part / --grow` or no size at all; an image type that writes a file system needs one. */
  sizeMiB?: number;
  fstype: string;
  /** `part / --label=NAME`: the file system's label. */
  label?: string;
}

export interface PlanScript {
  /** Interpreter path inside the image (default /bin/sh). */
  interpreter: string;
  /** `%post --nochroot`: runs in the sandbox with $IMG_ROOT pointing at the image root. */
  nochroot: boolean;
  body: string;
  /** 1-based line of the `%post` header in the kickstart (0 for a plan not read from a kickstart). */
  line: number;
  /** `%post --erroronfail`: kept so the builder can honour what the kickstart asked for. */
  erroronfail?: boolean;
  /**
   * `%post --log=PATH`: the script's output is also written there, inside the image; with --nochroot a
   * path in the sandbox, where the image's root is $INSTALL_ROOT, /mnt/sysimage and /mnt/sysroot.
   */
  log?: string;
}

/** `keyboard --xlayouts/--switch`: the X keyboard settings of /etc/default/keyboard. */
export interface PlanXkb {
  /** Layouts as XKB names (`cz`), in order; the first is the default. */
  layouts: string[];
  /** One per layout, '' for its default variant (`--xlayouts='cz (qwerty)'`). */
  variants: string[];
  /** `--switch`: XKB options such as `grp:alt_shift_toggle`. */
  options: string[];
}

export interface BuildPlan {
  suite: string;
  architecture: string;
  lang?: string;
  keyboard?: string;
  xkb?: PlanXkb;
  timezone?: { zone: string; utc: boolean };
  /**
   * `timezone --nontp` or `timesource --ntp-disable`: systemd-timesyncd disabled; `timezone
   * --ntpservers` or `timesource --ntp-server/--ntp-pool`: the servers of its configuration.
   */
  ntp?: { disabled: true } | { servers: string[] };
  rootpw?: { password: string; iscrypted: boolean; lock: boolean };
  /** `sshkey --username=root`: root's authorized_keys lines (root has no user line). */
  rootSshkeys?: string[];
  users: PlanUser[];
  hostname?: string;
  partitions: PlanPartition[];
  bootloader: { timeout?: number; append?: string };
  repos: PlanRepo[];
  packages: {
    include: string[];
    exclude: string[];
    groups: string[];
    /** `%packages --excludedocs`: documentation is not unpacked (dpkg path excludes). */
    excludedocs?: true;
    /** `%packages --ignoremissing`: a package apt does not know is skipped with a warning. */
    ignoremissing?: true;
  };
  /** `services --enabled/--disabled`: systemd units (Debian's names and aliases). */
  services?: { enabled: string[]; disabled: string[] };
  post: PlanScript[];
}
