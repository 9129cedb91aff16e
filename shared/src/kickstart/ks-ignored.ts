// Kickstart commands IMG does not run, each with the reason a person reads next to its line. Those that
// mean nothing on an image build are accepted with a warning (a working kickstart from Fedora, RHEL,
// MeeGo or Sailfish OS has them and should not need deleting them); those that ask for something an
// image built here cannot be are refused, saying what to write instead.
import type { OptionKind, OptionSpec } from './ks-options.ts';

const INSTALLER = 'an image build has no installer';
const DISKS = 'IMG writes a new image whose only partition is the root one (part /), sized by part / --size';
const SOURCE = 'IMG installs from the repo lines (Debian\'s own mirror when there are none)';
const END = 'IMG stops its build container itself when the image is made';

/** Accepted with a warning: installer-only commands, and commands with no meaning on a Debian image. */
export const IGNORED_COMMANDS: Readonly<Record<string, string>> = {
  // The installer's interface and behaviour.
  text: `it chooses the installer's interface; ${INSTALLER}`,
  cmdline: `it chooses the installer's interface; ${INSTALLER}`,
  graphical: `it chooses the installer's interface; ${INSTALLER}`,
  install: `it tells anaconda to install rather than upgrade; ${INSTALLER}`,
  interactive: `it makes the installer ask; ${INSTALLER}`,
  autostep: `it steps through the installer's screens; ${INSTALLER}`,
  mediacheck: `it checks the installation medium; ${INSTALLER}`,
  vnc: `it shows the installer over VNC; ${INSTALLER}`,
  rdp: `it shows the installer over RDP; ${INSTALLER}`,
  sshpw: `it lets people log into the installer over SSH; ${INSTALLER}`,
  updates: `it loads updates into the installer; ${INSTALLER}`,
  driverdisk: `it loads drivers into the installer; ${INSTALLER}`,
  rescue: `it starts the installer's rescue mode; ${INSTALLER}`,
  logging: `it sets the installer's logging; IMG's build log is on the job page`,
  eula: `it accepts Red Hat's licence in the installer; ${INSTALLER}`,
  firstboot: "it sets up Fedora's first-boot tool (initial-setup), which Debian does not have",
  // The installation source.
  url: `it names the installer's source of packages; ${SOURCE}`,
  cdrom: `it names the installer's source of packages; ${SOURCE}`,
  nfs: `it names the installer's source of packages; ${SOURCE}`,
  harddrive: `it names the installer's source of packages; ${SOURCE}`,
  liveimg: `it installs a prepared image instead of packages; ${SOURCE}`,
  method: `it names the installer's source of packages; ${SOURCE}`,
  // What the installer does when it ends.
  reboot: `it says what the installer does at its end; ${END}`,
  shutdown: `it says what the installer does at its end; ${END}`,
  poweroff: `it says what the installer does at its end; ${END}`,
  halt: `it says what the installer does at its end; ${END}`,
  // The target disks.
  zerombr: `it prepares the installer's target disks; ${DISKS}`,
  clearpart: `it prepares the installer's target disks; ${DISKS}`,
  ignoredisk: `it chooses the installer's target disks; ${DISKS}`,
  autopart: `it asks the installer to partition the disks; ${DISKS}`,
  reqpart: `it asks the installer for the platform's boot partitions; IMG makes the boot partitions an image type needs itself`,
  // No meaning on a Debian image.
  skipx: 'it tells the installer not to configure X; a Debian image configures X when a package needs it',
  auth: "it runs Red Hat's authconfig; Debian's PAM and NSS settings come with its packages",
  authconfig: "it runs Red Hat's authconfig; Debian's PAM and NSS settings come with its packages",
  authselect: "it runs Red Hat's authselect; Debian's PAM and NSS settings come with its packages",
  selinux: 'Debian images do not run SELinux',
  firewall: 'it configures firewalld; install a firewall package (firewalld, nftables, ufw) and configure it in %post',
  xconfig: 'it configures X and the login screen in the installer; install a display manager package (it starts at boot)',
  desktop: "it is mic's desktop setting (MeeGo); install a desktop's packages and configure its login in %post",
  // Old pykickstart commands.
  key: "it holds a RHEL installation number; Debian's archive needs none",
  displaymode: `it chooses the installer's interface; ${INSTALLER}`,
  monitor: 'it configured the monitor in the installer',
  mouse: 'it configured the mouse in the installer',
  langsupport: 'it chose extra languages in the installer; add the locales package and configure it in %post',
  lilocheck: 'it checked for LILO in the installer',
  deviceprobe: `it probes devices in the installer; ${INSTALLER}`,
  device: `it loads kernel modules in the installer; ${INSTALLER}`,
};

/** Refused: what an image built here cannot be, and what to write instead. */
export const REFUSED_COMMANDS: Readonly<Record<string, string>> = {
  logvol: `LVM is not built: ${DISKS}; replace the LVM lines with one line such as \`part / --size=4096 --fstype=ext4\``,
  volgroup: `LVM is not built: ${DISKS}; replace the LVM lines with one line such as \`part / --size=4096 --fstype=ext4\``,
  raid: `software RAID is not built: ${DISKS}; replace the RAID lines with one line such as \`part / --size=4096 --fstype=ext4\``,
  btrfs: `btrfs volumes are not built: ${DISKS}; replace the btrfs lines with one line such as \`part / --size=4096 --fstype=ext4\``,
  stratisfs: `Stratis is not built: ${DISKS}`,
  stratispool: `Stratis is not built: ${DISKS}`,
  dmraid: `firmware RAID is not built: ${DISKS}`,
  multipath: `multipath devices are not built: ${DISKS}`,
  iscsi: 'iSCSI targets are the installer\'s; configure open-iscsi in %post if the image needs it',
  iscsiname: 'iSCSI targets are the installer\'s; configure open-iscsi in %post if the image needs it',
  fcoe: 'FCoE devices are the installer\'s; configure fcoe-utils in %post if the image needs it',
  zfcp: 'zFCP devices are an IBM Z installer setting; IMG builds amd64 and arm64 images',
  zipl: 'zipl is the IBM Z boot loader; IMG builds amd64 and arm64 images',
  hmc: 'the HMC is an IBM Z installation source; IMG builds amd64 and arm64 images',
  nvdimm: 'NVDIMM namespaces are the installer\'s; configure ndctl in %post if the image needs it',
  mount: `it mounts existing file systems in the installer; ${DISKS}`,
  ostreesetup: 'an OSTree deployment is not a Debian image; list packages in %packages instead',
  ostreecontainer: 'an OSTree container deployment is not a Debian image; list packages in %packages instead',
  bootc: 'a bootc container deployment is not a Debian image; list packages in %packages instead',
  module: 'DNF module streams are Fedora\'s and RHEL\'s; Debian has one version of each package per suite',
  snapshot: `LVM thin snapshots are not built: ${DISKS}`,
  realm: 'joining a domain needs the machine running; do it at first boot (realmd, adcli) rather than at build time',
  group: 'make the group in %post (groupadd); a user line\'s --groups makes the groups it names',
  lilo: 'LILO is not a boot loader IMG installs; use bootloader',
  upgrade: 'an image build installs a new system; it does not upgrade one',
};

// Options of honoured commands that mean nothing on a Debian image: accepted, each with its reason.

/** An option pykickstart (or mic) knows that means nothing here: accepted, with this reason in a warning. */
export type IgnoredOption = { kind: OptionKind; why: string } | { alias: string };

/** network's device options: the image configures its network itself (DHCP), so they are accepted silently. */
export const NETWORK_IGNORED: OptionSpec = {
  bootproto: 'value', device: 'value', onboot: 'value', activate: 'flag', 'no-activate': 'flag',
  ip: 'value', ipv6: 'value', netmask: 'value', gateway: 'value', ipv6gateway: 'value', nameserver: 'value',
  noipv4: 'flag', noipv6: 'flag', nodefroute: 'flag', nodns: 'flag', mtu: 'value', ethtool: 'value',
  essid: 'value', wepkey: 'value', wpakey: 'value', dhcpclass: 'value', interfacename: 'value',
  notksdevice: 'flag', bondslaves: 'value', bondopts: 'value', vlanid: 'value', teamslaves: 'value', teamconfig: 'value',
  bridgeslaves: 'value', bridgeopts: 'value', bindto: 'value', 'ipv4-dns-search': 'value', 'ipv6-dns-search': 'value',
  'ipv4-ignore-auto-dns': 'flag', 'ipv6-ignore-auto-dns': 'flag',
};

export const DISK = 'IMG writes the image itself, with the root partition of part / --size';
export const PART_IGNORED: Readonly<Record<string, IgnoredOption>> = {
  ondisk: { kind: 'value', why: `it places the partition on one of the installer's disks; ${DISK}` },
  ondrive: { alias: 'ondisk' },
  onpart: { kind: 'value', why: `it reuses a partition of the installer's disks; ${DISK}` },
  usepart: { alias: 'onpart' },
  onbiosdisk: { kind: 'value', why: `it places the partition on one of the installer's disks; ${DISK}` },
  asprimary: { kind: 'flag', why: `the image's partition table is IMG's own; ${DISK}` },
  grow: { kind: 'flag', why: `the root partition is exactly --size MiB (a tar image has no size at all)` },
  maxsize: { kind: 'value', why: 'the root partition is exactly --size MiB' },
  recommended: { kind: 'flag', why: 'the root partition is exactly --size MiB' },
  noformat: { kind: 'flag', why: 'the root file system is always made new' },
  resize: { kind: 'flag', why: 'the root file system is always made new' },
  hibernation: { kind: 'flag', why: 'swap partitions are not built' },
  fsoptions: { kind: 'value', why: "the root file system is mounted with Debian's defaults; change /etc/fstab in %post" },
  fsprofile: { kind: 'value', why: 'the root file system is made with its tool\'s defaults' },
  mkfsoptions: { kind: 'value', why: 'the root file system is made with its tool\'s defaults' },
  // mic's own.
  align: { kind: 'value', why: "mic's partition alignment; IMG aligns partitions itself" },
  extoptions: { kind: 'value', why: "mic's file system options; the root file system is made with its tool's defaults" },
  'part-type': { kind: 'value', why: "mic's partition type; IMG chooses the partition types itself" },
};

export const REPO_IGNORED: Readonly<Record<string, IgnoredOption>> = {
  cost: { kind: 'value', why: "apt's preference between repositories is by suite and pinning, not cost" },
  excludepkgs: { kind: 'value', why: 'a repository takes all its packages; exclude packages in %packages' },
  includepkgs: { kind: 'value', why: 'a repository takes all its packages' },
  proxy: { kind: 'value', why: "builds use the operator's network settings" },
  noverifyssl: { kind: 'flag', why: 'apt checks the repository by its signature' },
  install: { kind: 'flag', why: "the image's apt sources always list the repositories it was built from" },
  sslcacert: { kind: 'value', why: 'apt checks the repository by its signature' },
  sslclientcert: { kind: 'value', why: 'apt checks the repository by its signature' },
  sslclientkey: { kind: 'value', why: 'apt checks the repository by its signature' },
  ignoregroups: { kind: 'value', why: 'groups come from the template\'s group table' },
  // mic's own.
  save: { kind: 'flag', why: "the image's apt sources always list the repositories it was built from" },
  debuginfo: { kind: 'flag', why: 'Debian keeps debug symbols in its own -dbgsym archive; add it as a repo line if you need it' },
  source: { kind: 'flag', why: 'source packages are not part of an image' },
  gpgkey: { kind: 'value', why: 'an RPM signing key; a Debian repository of your own names its key with --key' },
  disable: { kind: 'flag', why: 'every repo line is used' },
  ssl_verify: { kind: 'value', why: 'apt checks the repository by its signature' },
  priority: { kind: 'value', why: "apt's preference between repositories is by suite and pinning" },
  nocache: { kind: 'flag', why: 'the build keeps no package cache of a repository of your own' },
  proxyuser: { kind: 'value', why: "builds use the operator's network settings" },
  proxypasswd: { kind: 'value', why: "builds use the operator's network settings" },
};
