// The boot tests' marker: a %post that installs a unit printing it on the serial console once the
// system is up, so a boot check can wait for it instead of a login prompt.

export const BOOT_MARKER = 'IMG-BOOT-OK';

/** %post lines (without %post/%end) that make the image print BOOT_MARKER on `tty` at boot. */
export function bootMarkerPost(tty: 'ttyS0' | 'ttyAMA0'): string[] {
  return [
    'cat > /etc/systemd/system/img-boot-marker.service <<UNIT',
    '[Unit]',
    'Description=Boot marker for the IMG boot check',
    `Before=serial-getty@${tty}.service`,
    '[Service]',
    'Type=oneshot',
    `ExecStart=/bin/echo ${BOOT_MARKER}`,
    'StandardOutput=tty',
    `TTYPath=/dev/${tty}`,
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    // What `systemctl enable` does, spelled out: a file system image has no systemd to run it.
    'mkdir -p /etc/systemd/system/multi-user.target.wants',
    'ln -s ../img-boot-marker.service /etc/systemd/system/multi-user.target.wants/img-boot-marker.service',
  ];
}
