#!/usr/bin/env bash
# test/lab/down.sh [--wipe] — stop what test/lab/up.sh started and delete the lab's data.
#
# Stops every server by the PID up.sh recorded in $KB_LAB/run/*.pid (postgres with SIGINT = fast shutdown; the
# others with SIGTERM; SIGKILL after 10 s), never by name. A PID only counts when the process is not a zombie and
# its command line mentions $KB_LAB/ (PID 1 here reaps orphans only every ~2 s, and PIDs get recycled).
# Tolerates missing pidfiles and dead processes, so it is safe to run any number of times.
#
# Removed:  databases, REST/S3/SFTP data, $KB_LAB/shared (incl. the tests' temp dirs), kbdeploy's home, the tmpfs mount, pidfiles,
#           the restic cache.
# Kept:     downloads and things that are slow or pointless to redo: bin/restic-0.18, node/ (s3rver), apt/, keys/,
#           templates/, remote-bin/, logs/ (for post-mortems), the kbdeploy user.
# --wipe:   also those, the whole $KB_LAB, user kbdeploy and group kblab.
set -euo pipefail

KB_LAB=${KB_LAB:-/tmp/kb-lab}
KB_LAB=${KB_LAB%/}
WIPE=0
for arg in "$@"; do
  case "$arg" in
    --wipe) WIPE=1 ;;
    *) echo "down.sh: unknown argument: $arg (expected --wipe)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "down.sh: needs root" >&2; exit 1; }
case "$KB_LAB" in /?*/*|/tmp/?*) ;; *) echo "down.sh: refusing to work on KB_LAB='$KB_LAB'" >&2; exit 1 ;; esac

T0=${EPOCHREALTIME/./}
say() {
  local now=${EPOCHREALTIME/./}
  local ms=$(( (now - T0) / 1000 ))
  printf '[lab-down %3d.%01ds] %s\n' $((ms / 1000)) $(((ms % 1000) / 100)) "$*"
}
if [ ! -d "$KB_LAB" ]; then say "nothing to do: $KB_LAB does not exist"; exit 0; fi

alive() {
  local pid=${1:-} stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  case "${stat%% *}" in Z|X|x) return 1 ;; esac
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$KB_LAB/"
}

# Wait for a running up.sh to finish (it holds this lock) rather than pulling the floor from under it.
exec 8>"$KB_LAB/.lab.lock"
flock -w 30 8 || say "WARNING: $KB_LAB/.lab.lock still held after 30 s; stopping anyway"

# 1. Signal every recorded server at once, then wait for all of them (a sequential stop would add up the
#    shutdown times: mariadb alone needs ~1 s).
declare -A PIDS=()
if [ -f "$KB_LAB/pg/data/postmaster.pid" ]; then PIDS[postgres]=$(head -1 "$KB_LAB/pg/data/postmaster.pid"); fi
for f in "$KB_LAB"/run/*.pid; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .pid)
  PIDS[$name]=$(cat "$f" 2>/dev/null || true)
done
for name in "${!PIDS[@]}"; do
  pid=${PIDS[$name]}
  if alive "$pid"; then
    case "$name" in
      postgres) kill -INT "$pid" 2>/dev/null || true ;;   # SIGINT = fast shutdown; SIGTERM would wait for clients
      *) kill -TERM "$pid" 2>/dev/null || true ;;
    esac
  else
    unset "PIDS[$name]"
  fi
done
deadline=$(( ${EPOCHREALTIME/./} + 10000000 ))
while :; do
  left=()
  for name in "${!PIDS[@]}"; do alive "${PIDS[$name]}" && left+=("$name"); done
  [ ${#left[@]} -eq 0 ] && break
  if [ "${EPOCHREALTIME/./}" -gt "$deadline" ]; then
    for name in "${left[@]}"; do
      say "WARNING: $name (pid ${PIDS[$name]}) ignored its signal for 10 s: SIGKILL"
      kill -KILL "${PIDS[$name]}" 2>/dev/null || true
    done
    sleep 0.2
    break
  fi
  sleep 0.05
done
if [ ${#PIDS[@]} -gt 0 ]; then
  for name in $(printf '%s\n' "${!PIDS[@]}" | sort); do say "stopped $name (pid ${PIDS[$name]})"; done
else
  say "no lab server was running"
fi
rm -f "$KB_LAB"/run/*.pid

# 2. Sessions a test left behind on the lab's sshd run as the lab-only user kbdeploy: end them one by one (by PID).
if uid=$(id -u kbdeploy 2>/dev/null); then
  for d in /proc/[0-9]*; do
    [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ] || continue
    pid=${d#/proc/}
    st=$(cat "$d/stat" 2>/dev/null) || continue
    st=${st##*) }
    case "${st%% *}" in Z|X|x) continue ;; esac   # already exited, waiting for PID 1 to reap it
    say "ending leftover kbdeploy process $pid ($(tr '\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-60))"
    kill -TERM "$pid" 2>/dev/null || true
  done
fi

# Containers the tests started (accessories, PostgreSQL 17) that a crashed test left: they hold the scratch mount.
if command -v podman >/dev/null 2>&1; then
  left=$(podman ps -aq --filter label=kamal-backup.lab=1 2>/dev/null || true)
  if [ -n "$left" ]; then
    podman rm -f -t 0 $left >/dev/null 2>&1 || say "WARNING: podman rm of lab containers failed"
    say "removed $(echo "$left" | wc -w) lab container(s)"
  fi
fi

# 3. The tmpfs and the bind mount of the scratch space. If a test left a process inside, a lazy unmount still
# detaches it.
for mnt in "$KB_LAB/mnt/volume" "$KB_LAB/shared/tmp"; do
  if mountpoint -q "$mnt" 2>/dev/null; then
    umount "$mnt" 2>/dev/null || umount -l "$mnt"
    say "unmounted $mnt"
  fi
done

# 4. Data.
if [ "$WIPE" = 1 ]; then
  rm -rf "$KB_LAB"
  if id -u kbdeploy >/dev/null 2>&1; then userdel kbdeploy 2>/dev/null || say "WARNING: userdel kbdeploy failed"; fi
  if getent group kblab >/dev/null; then groupdel kblab 2>/dev/null || say "WARNING: groupdel kblab failed"; fi
  rm -f /etc/sudoers.d/kamal-backup-lab
  say "wiped $KB_LAB, user kbdeploy and group kblab"
else
  rm -rf "$KB_LAB"/{pg,my,rest,s3,sftp,shared,cache,home,mnt,env.json,env.sh}
  say "removed lab data (kept bin/ node/ apt/ quadlet/ keys/ templates/ remote-bin/ logs/)"
fi
say "lab down"
