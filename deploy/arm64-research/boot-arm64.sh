#!/bin/bash
# Boots an arm64 disk in QEMU (TCG), serial console to a log (each line prefixed with the seconds since
# QEMU started), until "login:" (or a timeout). Usage: boot-arm64.sh IMAGE FORMAT LOG [CPU] [SMP] [extra qemu args...]
img=$1 fmt=$2 log=$3 cpu=${4:-cortex-a57} smp=${5:-1}; shift 5 2>/dev/null || shift $#
limit=${BOOT_TIMEOUT:-900}
fw=${FIRMWARE:-/usr/share/qemu-efi-aarch64/QEMU_EFI.fd}
s=$(date +%s.%N)
qemu-system-aarch64 -machine virt,accel=tcg -cpu "$cpu" -smp "$smp" -m 1024 -bios "$fw" \
  -display none -monitor none -serial stdio -nic none -snapshot -no-reboot \
  -drive file="$img",format="$fmt",if=virtio -pidfile /tmp/arm64/qemu-$$.pid "$@" 2>&1 \
  | perl -MTime::HiRes=time -e '$|=1; my $s=time; my $bol=1; while (sysread(STDIN, my $b, 4096)) { for my $c (split /(?<=\n)/, $b) { printf "%7.2f ", time-$s if $bol; print $c; $bol = ($c =~ /\n$/) } }' > "$log" &
q=$!
while kill -0 $q 2>/dev/null; do
  if grep -aq 'login:' "$log"; then break; fi
  if [ "$(echo "$(date +%s.%N) - $s > $limit" | bc)" = 1 ]; then echo "TIMEOUT"; break; fi
  sleep 0.5
done
e=$(date +%s.%N)
[ -s /tmp/arm64/qemu-$$.pid ] && kill "$(cat /tmp/arm64/qemu-$$.pid)" 2>/dev/null; rm -f /tmp/arm64/qemu-$$.pid
kill %1 2>/dev/null; wait 2>/dev/null
if grep -aq 'login:' "$log"; then r='to login prompt'; else r='WITHOUT a login prompt'; fi
printf "boot %s cpu=%s smp=%s: %.1f s $r\n" "$img" "$cpu" "$smp" "$(echo "$e - $s" | bc)"
sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -aE 'BdsDxe: starting|Welcome to GRUB|EFI stub: Booting|Run /init|EXT4-fs .*mounted|systemd\[1\]: systemd [0-9]|login:' | cut -c1-110
