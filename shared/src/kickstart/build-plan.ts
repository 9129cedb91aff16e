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
  sizeMiB: number;
  fstype: string;
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
  /** `%post --log=PATH`: where, inside the image (or the sandbox with --nochroot), the script's output goes. */
  log?: string;
}

export interface BuildPlan {
  suite: string;
  architecture: string;
  lang?: string;
  keyboard?: string;
  timezone?: { zone: string; utc: boolean };
  rootpw?: { password: string; iscrypted: boolean; lock: boolean };
  /** `sshkey --username=root`: root's authorized_keys lines (root has no user line). */
  rootSshkeys?: string[];
  users: PlanUser[];
  hostname?: string;
  partitions: PlanPartition[];
  bootloader: { timeout?: number; append?: string };
  repos: PlanRepo[];
  packages: { include: string[]; exclude: string[]; groups: string[] };
  post: PlanScript[];
}
