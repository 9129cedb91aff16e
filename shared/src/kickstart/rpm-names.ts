// What Debian calls the packages Fedora, RHEL and MeeGo kickstarts name most: a small table of names
// that edit distance cannot find (`vim-enhanced` is `vim`, `kernel` is `linux-image-amd64`), and the
// renaming rules RPM and Debian differ by (`-devel` is `-dev`, names are lowercase). The candidates are
// suggestions: with a package index the check keeps those the suite has.

/** RPM name → Debian names; `{arch}` stands for the image's architecture. */
const TABLE: Readonly<Record<string, readonly string[]>> = {
  kernel: ['linux-image-{arch}'],
  'kernel-core': ['linux-image-{arch}'],
  'kernel-modules': ['linux-image-{arch}'],
  'kernel-modules-extra': ['linux-image-{arch}'],
  'kernel-devel': ['linux-headers-{arch}'],
  'kernel-headers': ['linux-libc-dev'],
  'vim-enhanced': ['vim'],
  'vim-minimal': ['vim-tiny'],
  'vim-X11': ['vim-gtk3'],
  NetworkManager: ['network-manager'],
  'NetworkManager-wifi': ['network-manager'],
  'NetworkManager-tui': ['network-manager'],
  'NetworkManager-gnome': ['network-manager-gnome'],
  ModemManager: ['modemmanager'],
  openssh: ['openssh-client'],
  'openssh-clients': ['openssh-client'],
  'openssh-askpass': ['ssh-askpass'],
  'bind-utils': ['bind9-dnsutils'],
  bind: ['bind9'],
  httpd: ['apache2'],
  'httpd-tools': ['apache2-utils'],
  iproute: ['iproute2'],
  iputils: ['iputils-ping'],
  'procps-ng': ['procps'],
  'util-linux-core': ['util-linux'],
  'coreutils-single': ['coreutils'],
  glibc: ['libc6'],
  'glibc-common': ['libc-bin'],
  'glibc-devel': ['libc6-dev'],
  'glibc-minimal-langpack': ['locales'],
  'glibc-langpack-en': ['locales'],
  'glibc-all-langpacks': ['locales-all'],
  'langpacks-en': ['locales'],
  'gcc-c++': ['g++'],
  cronie: ['cron'],
  crontabs: ['cron'],
  ntp: ['ntpsec'],
  ntpdate: ['ntpsec-ntpdate'],
  dnf: ['apt'],
  yum: ['apt'],
  'yum-utils': ['apt-utils'],
  'dnf-utils': ['apt-utils'],
  'dnf-plugins-core': ['apt-utils'],
  rootfiles: ['base-files'],
  setup: ['base-files'],
  basesystem: ['base-files'],
  filesystem: ['base-files'],
  'fedora-release': ['base-files'],
  'centos-release': ['base-files'],
  'rocky-release': ['base-files'],
  'almalinux-release': ['base-files'],
  'meego-release': ['base-files'],
  'shadow-utils': ['passwd'],
  'man-pages': ['manpages'],
  grub2: ['grub-pc'],
  'grub2-pc': ['grub-pc'],
  'grub2-tools': ['grub2-common'],
  'grub2-efi-x64': ['grub-efi-amd64'],
  'grub2-efi-aa64': ['grub-efi-arm64'],
  'dracut-config-generic': ['dracut'],
  'cloud-utils-growpart': ['cloud-guest-utils'],
  'xorg-x11-server-Xorg': ['xserver-xorg-core'],
  'xorg-x11-drv-evdev': ['xserver-xorg-input-evdev'],
  'xorg-x11-drv-libinput': ['xserver-xorg-input-libinput'],
  'xorg-x11-drv-vesa': ['xserver-xorg-video-vesa'],
  'xorg-x11-drv-fbdev': ['xserver-xorg-video-fbdev'],
  'xorg-x11-xauth': ['xauth'],
  polkit: ['polkitd'],
  nc: ['netcat-openbsd'],
  'nmap-ncat': ['ncat'],
  'curl-minimal': ['curl'],
  'dhcp-client': ['isc-dhcp-client'],
  dhclient: ['isc-dhcp-client'],
  which: ['debianutils'],
  'iptables-services': ['iptables-persistent'],
  audit: ['auditd'],
  'systemd-udev': ['udev'],
  avahi: ['avahi-daemon'],
  'samba-client': ['smbclient'],
  'nfs-utils': ['nfs-common'],
  'linux-firmware': ['firmware-linux-free'],
  'git-core': ['git'],
  'java-latest-openjdk': ['default-jre'],
  'qemu-arm-static': ['qemu-user-static'],
  firefox: ['firefox-esr'],
  'selinux-policy-targeted': ['selinux-policy-default'],
  'redhat-lsb-core': ['lsb-release'],
  'python3-pip': ['python3-pip'],
  pinentry: ['pinentry-curses'],
};

const ARCH_SUFFIXES = ['.x86_64', '.i686', '.i386', '.noarch', '.aarch64', '.armv7hl', '.ppc64le', '.s390x'];

/**
 * Debian names that may be what an RPM-style name means, most likely first, without duplicates:
 * the table's, then the renaming rules'. Not checked against any index.
 */
export function debianCandidates(name: string, arch: string): string[] {
  const out: string[] = [];
  const add = (n: string) => {
    const v = n.replace('{arch}', arch);
    if (v !== name && !out.includes(v)) out.push(v);
  };
  const bare = ARCH_SUFFIXES.reduce((n, s) => (n.endsWith(s) ? n.slice(0, -s.length) : n), name);
  for (const n of Object.hasOwn(TABLE, bare) ? TABLE[bare] as readonly string[] : []) add(n);
  const lower = bare.toLowerCase().replaceAll('_', '-');
  if (lower !== name) add(lower);
  if (lower.endsWith('-devel')) {
    const base = lower.slice(0, -'-devel'.length);
    add(`${base}-dev`);
    if (!base.startsWith('lib')) add(`lib${base}-dev`);
  }
  if (lower.endsWith('-libs')) {
    const base = lower.slice(0, -'-libs'.length);
    add(base.startsWith('lib') ? base : `lib${base}`);
  }
  return out;
}
