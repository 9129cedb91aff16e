// The build sandbox's settings that more than image-creator needs (the image-build benchmark runs
// the builder's script by hand with the same ones).

/**
 * Capabilities the build provably needs; every other one is dropped. The build runs under Docker's
 * user-namespace remapping (`userns-remap`), so each of these holds only inside the container's own
 * user namespace: the build's root is an unprivileged uid on the host. Each was tried away in turn:
 * - CHOWN, FOWNER, FSETID, DAC_OVERRIDE: dpkg unpacks files owned by other users, with set-id bits
 *   (without FSETID the image loses them; without FOWNER apt's partial/ folders get the wrong mode;
 *   without CHOWN or DAC_OVERRIDE the build fails).
 * - SETUID, SETGID: apt's download sandbox and maintainer scripts switch users (_apt).
 * - SYS_CHROOT: packages are configured and %post runs inside the new root.
 * Not granted: MKNOD (no device node can be made in a user namespace anyway: the image's /dev is
 * made by the tools that write the image, see deploy/builder/dev-nodes.sh), KILL (a build signals
 * only its own processes), SYS_ADMIN (mounts), NET_ADMIN, NET_RAW, SYS_PTRACE, SETFCAP and the rest.
 */
export const SANDBOX_CAPABILITIES = ['CHOWN', 'FOWNER', 'FSETID', 'DAC_OVERRIDE', 'SETUID', 'SETGID', 'SYS_CHROOT'];
