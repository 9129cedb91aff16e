#!/bin/bash
# Sourced by build-in-sandbox.sh: kill_leftovers, which it runs when the %post scripts are done.
# Every process but the calling script and the container's init is killed, except those image-creator
# runs here with docker exec (reading the cache offer while the build goes on): they have no parent
# in this container (PPid 0), and no process a %post starts can become one (an orphan goes to init).
# Killed in rounds until none is left, as a process may fork while the list is read; the pids limit
# bounds how many there can be. Calls the script's `fail` when some cannot be stopped.
kill_leftovers() {
  local round p k v z ppid uid found
  for round in $(seq 50); do
    found=0
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      [ "$p" = "$$" ] || [ "$p" = 1 ] && continue
      # A zombie is dead already (init reaps it); a process with no parent here is image-creator's.
      ppid= z= uid=
      while read -r k v; do
        case "$k" in
          State:) [ "${v%% *}" = Z ] && z=1 ;;
          PPid:) ppid=$v ;;
          Uid:) uid=${v%%[[:space:]]*}; break ;;
        esac
      done 2>/dev/null < "/proc/$p/status"
      [ -z "$z" ] && [ -n "$ppid" ] && [ "$ppid" != 0 ] || continue
      found=1
      # The sandbox has no CAP_KILL: a process that changed to another user is signalled as that user.
      kill -KILL "$p" 2>/dev/null \
        || { [ -n "$uid" ] && setpriv --reuid="$uid" --clear-groups -- bash -c 'kill -KILL "$1"' _ "$p" 2>/dev/null; }
    done
    [ "$found" = 0 ] && return 0
    sleep 0.05
  done
  echo "IMG: processes the %post started could not all be stopped"
  fail post_script_failed
}
