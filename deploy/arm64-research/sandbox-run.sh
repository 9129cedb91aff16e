#!/bin/bash
# Runs a command in a container shaped like image-creator's build sandbox (docker-runner.ts):
# all capabilities dropped but the seven, no-new-privileges, read-only root, /work a tmpfs,
# the harmless host device nodes bound into /work/rootfs/dev. Usage: sandbox-run.sh IMAGE CMD...
img=$1; shift
devs=()
for d in null zero full random urandom tty; do devs+=(-v /dev/$d:/work/rootfs/dev/$d:ro); done
exec docker run --rm -i --init --cap-drop ALL \
  --cap-add CHOWN --cap-add FOWNER --cap-add FSETID --cap-add DAC_OVERRIDE \
  --cap-add SETUID --cap-add SETGID --cap-add SYS_CHROOT \
  --security-opt no-new-privileges --read-only \
  --tmpfs /work:rw,exec,dev,suid,mode=0755,size=6g --tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777,size=64m \
  -v /tmp/arm64/share:/share "${devs[@]}" ${SANDBOX_EXTRA:-} "$img" "$@"
