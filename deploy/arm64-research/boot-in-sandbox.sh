#!/bin/bash
# In the sandbox: the boot check as image-creator would run it there (qemu-system-aarch64 from the
# builder image, TCG, no network, -snapshot), stopped at the first "login:" on the serial console.
# (The prompt has no newline after it: poll the log file, a line-reading grep would wait for ever.)
# Usage: boot-in-sandbox.sh IMAGE FORMAT [CPU]
img=$1 fmt=$2 cpu=${3:-cortex-a57}
export TMPDIR=/work   # -snapshot writes its overlay there; the rest of the container is read-only
s=$(date +%s)
qemu-system-aarch64 -machine virt,accel=tcg -cpu "$cpu" -smp 1 -m 1024 \
  -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd \
  -display none -monitor none -serial stdio -nic none -snapshot -no-reboot \
  -drive file="$img",format="$fmt",if=virtio > /work/console.log 2>&1 &
q=$!
for _ in $(seq 1200); do grep -aq 'login:' /work/console.log && break; kill -0 $q 2>/dev/null || break; sleep 0.5; done
kill $q 2>/dev/null
grep -a -o '[^ ]* login:' /work/console.log | head -1 || tail -20 /work/console.log
echo "boot check in the sandbox: $(( $(date +%s) - s )) s"
echo "@@CPU container cpu total: $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || echo 0) / 1000000000 )) s"
