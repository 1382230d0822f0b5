#!/usr/bin/env bash
# test/lab/up.sh — start the real servers the integration tests talk to, all on 127.0.0.1, all under $KB_LAB.
#
#   bash test/lab/up.sh      start what is not running, verify everything, (re)write $KB_LAB/env.json + env.sh
#   bash test/lab/down.sh    stop it all again (see there)
#
# Idempotent: when the lab is already up this only runs the health checks (~1 s) and rewrites env.json.
# Needs root (Debian 12). Missing packages / restic 0.18 / s3rver are installed by `scripts/setup.sh --lab-only`,
# which this script calls by itself when something is missing.
#
# What runs (ports can be moved with the KB_LAB_*_PORT variables below; tests read them from env.json):
#   PostgreSQL 15    127.0.0.1:55432  superuser postgres/kb-pg-superuser-pw, role kbapp/kb-pg-app-pw (CREATEDB)
#   MariaDB 10.11    127.0.0.1:53306  + socket $KB_LAB/my/mysqld.sock; user kb/kb-my-pw, ALL ON *.* WITH GRANT OPTION
#   sshd             127.0.0.1:2222   key-only login as kbdeploy ($KB_LAB/keys/id_ed25519); PATH starts with
#                                     $KB_LAB/remote-bin; sftp subsystem (restic sftp repos under $KB_LAB/sftp)
#   sshd (jump)      127.0.0.1:2223   same user and key, AllowTcpForwarding yes
#   REST (rclone)    127.0.0.1:18001  no auth;  127.0.0.1:18002 basic auth kbrest/kb-rest-pw
#   S3 (s3rver)      127.0.0.1:18004  HTTPS only (self-signed cert for IP 127.0.0.1), bucket "backups",
#                                     keys S3RVER/S3RVER. Never plain http: s3rver stores restic's aws-chunked
#                                     uploads verbatim over http and the repository is silently corrupt.
#   tmpfs            $KB_LAB/mnt/volume (restore-into-a-mount-point tests)
#   restic templates $KB_LAB/templates/restic-0.14 and restic-0.18 (password kb-restic-pw): `restic init` costs
#                    2-4 s, so tests `cp -a` a template instead (test/support/lab.ts freshRepo()).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KB_LAB=${KB_LAB:-/tmp/kb-lab}
PG_PORT=${KB_LAB_PG_PORT:-55432}
MY_PORT=${KB_LAB_MY_PORT:-53306}
SSH_PORT=${KB_LAB_SSH_PORT:-2222}
JUMP_PORT=${KB_LAB_JUMP_PORT:-2223}
REST_PORT=${KB_LAB_REST_PORT:-18001}
REST_AUTH_PORT=${KB_LAB_REST_AUTH_PORT:-18002}
S3_PORT=${KB_LAB_S3_PORT:-18004}

SSH_USER=kbdeploy
LAB_GROUP=kblab           # kbdeploy's primary group; lab repos are group-accessible to it (see make_group_repo)
PG_SUPER_PW=kb-pg-superuser-pw
PG_APP_USER=kbapp
PG_APP_PW=kb-pg-app-pw
MY_USER=kb
MY_PW=kb-my-pw
REST_USER=kbrest
REST_PW=kb-rest-pw
S3_KEY=S3RVER             # s3rver's built-in credentials
S3_SECRET=S3RVER
S3_BUCKET=backups
RESTIC_PW=kb-restic-pw
R14=/usr/bin/restic
R18=$KB_LAB/bin/restic-0.18

T0=${EPOCHREALTIME/./}
say() {
  local now=${EPOCHREALTIME/./}
  local ms=$(( (now - T0) / 1000 ))
  printf '[lab-up %3d.%01ds] %s\n' $((ms / 1000)) $(((ms % 1000) / 100)) "$*"
}
die() { printf '\nlab-up: ERROR: %s\n\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc = 0 ] || printf "lab-up: failed (rc %s). Logs: %s/logs/. Stop what did start with: bash test/lab/down.sh\n" "$rc" "$KB_LAB" >&2' EXIT

[ "$(id -u)" = 0 ] || die "the lab needs root (it creates user $SSH_USER, mounts a tmpfs, runs postgres/mariadb as their users)"
# Paths go into sshd_config, pg_ctl -o and ssh -o strings unquoted: keep them simple.
[[ "$KB_LAB" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "KB_LAB must be an absolute path without spaces or special characters (got '$KB_LAB')"
KB_LAB=${KB_LAB%/}

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
# A lab process is alive when it exists, is not a zombie (PID 1 here reaps orphans only every ~2 s) and its command
# line mentions $KB_LAB/ (so a recycled PID is never mistaken for ours).
alive() {
  local pid=${1:-} stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  case "${stat%% *}" in Z|X|x) return 1 ;; esac
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$KB_LAB/"
}
pid_of() { cat "$KB_LAB/run/$1.pid" 2>/dev/null || true; }
running() { alive "$(pid_of "$1")"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Refuse to start on a port somebody else holds (a server of ours that lost its pidfile, or a foreign one).
port_must_be_free() {
  if port_open "$2"; then
    die "$1: 127.0.0.1:$2 is already in use by a process this lab did not record:
$(ss -ltnpH "sport = :$2" 2>/dev/null || true)
Stop it (or move the lab with KB_LAB_*_PORT) and retry."
  fi
}
# Start a server in its own session (so Ctrl-C in the terminal or the end of a CI step does not hit it), with
# stdin/stdout/stderr detached (a server holding our stdout pipe would keep callers waiting forever). setsid does
# not fork when its caller is not a process-group leader (true for `cmd &` in a script), so $! is the server itself.
# fd 8 is our flock on $KB_LAB/.lab.lock: a server inheriting it would hold the lock forever.
spawn() {
  local name=$1; shift
  : > "$KB_LAB/logs/$name.log"
  setsid "$@" </dev/null >>"$KB_LAB/logs/$name.log" 2>&1 8>&- &
  echo $! > "$KB_LAB/run/$name.pid"
}
wait_port() { # name port
  local name=$1 port=$2 i
  for i in $(seq 1 300); do
    port_open "$port" && return 0
    if [ -n "$(pid_of "$name")" ] && ! running "$name"; then
      tail -n 30 "$KB_LAB/logs/$name.log" >&2 || true
      die "$name exited while starting (log above: $KB_LAB/logs/$name.log)"
    fi
    sleep 0.05
  done
  tail -n 30 "$KB_LAB/logs/$name.log" >&2 || true
  die "$name: nothing listens on 127.0.0.1:$port after 15 s"
}

# ---------------------------------------------------------------------------------------------------------------
# 0. prerequisites (installs them when missing), directories, user
# ---------------------------------------------------------------------------------------------------------------
need_setup=""
for b in "$R14" /usr/bin/rclone /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen /usr/sbin/mariadbd /usr/bin/mariadb \
         /usr/bin/mariadb-install-db /usr/bin/sqlite3 /usr/bin/openssl /usr/bin/setsid /usr/bin/flock /usr/bin/mountpoint /usr/bin/ss; do
  [ -x "$b" ] || need_setup="$need_setup $b"
done
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_setup="$need_setup postgresql"
[ -x "$R18" ] || need_setup="$need_setup $R18"
[ -f "$KB_LAB/node/node_modules/s3rver/package.json" ] || need_setup="$need_setup s3rver"
# The checkers of generated deployment files (quadlet generator, Compose v2), unpacked from Debian trixie.
[ -x "$KB_LAB/quadlet/usr/libexec/podman/quadlet" ] && [ -x "$KB_LAB/bin/docker-compose-2" ] || need_setup="$need_setup checkers"
if [ -n "$need_setup" ]; then
  say "missing:$need_setup -> bash scripts/setup.sh --lab-only"
  KB_LAB=$KB_LAB bash "$ROOT/scripts/setup.sh" --lab-only
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

mkdir -p "$KB_LAB"
chmod 755 "$KB_LAB"
# Two up.sh (or an up.sh and a down.sh) at once would race on pidfiles; serialize them.
exec 8>"$KB_LAB/.lab.lock"
flock -w 120 8 || die "another test/lab/up.sh or down.sh holds $KB_LAB/.lab.lock"

mkdir -p "$KB_LAB"/{run,logs,keys,sshd,templates,remote-bin,cache,home,rest/noauth,rest/auth,s3/data,tls,mnt/volume}
chmod 755 "$KB_LAB/remote-bin" "$KB_LAB/home" "$KB_LAB/mnt"
mkdir -p /run/sshd && chmod 755 /run/sshd   # sshd refuses to start without its privilege-separation directory

getent group "$LAB_GROUP" >/dev/null || groupadd --system "$LAB_GROUP"
if ! id -u "$SSH_USER" >/dev/null 2>&1; then
  useradd -M -N -g "$LAB_GROUP" -d "$KB_LAB/home/$SSH_USER" -s /bin/bash -c "kamal-backup test lab" "$SSH_USER"
  say "user: created $SSH_USER"
fi
# Re-assert the account every time (KB_LAB may have moved): home, group, and a password of '*' instead of useradd's
# '!' (locked), which sshd refuses when UsePAM is off.
if [ "$(getent passwd "$SSH_USER" | cut -d: -f6)" != "$KB_LAB/home/$SSH_USER" ]; then usermod -d "$KB_LAB/home/$SSH_USER" "$SSH_USER"; fi
[ "$(id -gn "$SSH_USER")" = "$LAB_GROUP" ] || usermod -g "$LAB_GROUP" "$SSH_USER"
[ "$(getent shadow "$SSH_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$SSH_USER"
install -d -o "$SSH_USER" -g "$LAB_GROUP" -m 755 "$KB_LAB/home/$SSH_USER"
SSH_UID=$(id -u "$SSH_USER"); SSH_GID=$(getent group "$LAB_GROUP" | cut -d: -f3)

# Directories the remote side (kbdeploy) writes to: shared scratch space and the sftp repositories.
install -d -m 1777 "$KB_LAB/shared" "$KB_LAB/shared/tmp"
chmod 1777 "$KB_LAB/shared" "$KB_LAB/shared/tmp"
# The accessory host's `docker` is the real container engine: podman (Debian's podman-docker gives it the name).
# kbdeploy may run it as root through sudo, as a Kamal deploy user in the docker group may use Docker (either is
# root-equivalent on the host); the containers are real, built from the lab image (test/lab/image.sh).
mkdir -p /etc/containers /etc/sudoers.d
touch /etc/containers/nodocker   # podman-docker's "Emulate Docker CLI" notice would precede every command's output
printf '# kamal-backup test lab (test/lab/up.sh): the SSH user may use the container engine, like a docker group member.\nDefaults:%s !use_pty, !requiretty, !lecture\n%s ALL=(root) NOPASSWD: /usr/bin/podman\n' "$SSH_USER" "$SSH_USER" > /etc/sudoers.d/kamal-backup-lab
chmod 440 /etc/sudoers.d/kamal-backup-lab
visudo -cq -f /etc/sudoers.d/kamal-backup-lab || die "visudo rejected /etc/sudoers.d/kamal-backup-lab"
printf '#!/bin/sh\n# The lab accessory host'"'"'s docker: the real engine (podman), as root (see test/lab/up.sh).\nexec sudo -n /usr/bin/podman "$@"\n' > "$KB_LAB/remote-bin/docker"
chmod 755 "$KB_LAB/remote-bin/docker"
rm -rf "$KB_LAB/shared/containers"
install -d -o "$SSH_USER" -g "$LAB_GROUP" -m 2775 "$KB_LAB/sftp"
say "prerequisites ok (user $SSH_USER uid $SSH_UID, group $LAB_GROUP)"

# ---------------------------------------------------------------------------------------------------------------
# 1. restic template repositories (background; `restic init` is 2-4 s of scrypt calibration)
# ---------------------------------------------------------------------------------------------------------------
# Lab repos are group-accessible: restic derives file modes from the config file's mode (since 0.14), so with
# config 0440 it writes 0440 files and 0770 dirs; setgid dirs keep group kblab. Root (the tests) and kbdeploy (the
# remote side over ssh/sftp) can then both use the same repository, whoever wrote last.
make_group_repo() { chgrp -R "$LAB_GROUP" "$1"; chmod -R g+rX "$1"; chmod 0440 "$1/config"; find "$1" -type d -exec chmod 2770 {} +; }
make_template() { # version bin
  local dst="$KB_LAB/templates/restic-$1" tmp="$KB_LAB/templates/.restic-$1.tmp.$$"
  rm -rf "$tmp"
  RESTIC_PASSWORD=$RESTIC_PW timeout 120 "$2" --no-cache -r "$tmp" init -q >"$KB_LAB/logs/template-$1.log" 2>&1 \
    || { cat "$KB_LAB/logs/template-$1.log" >&2; return 1; }
  make_group_repo "$tmp"
  rm -rf "$dst"; mv "$tmp" "$dst"
}
template_pids=()
for v in 0.14 0.18; do
  if [ -f "$KB_LAB/templates/restic-$v/config" ] && [ -n "$(ls -A "$KB_LAB/templates/restic-$v/keys" 2>/dev/null)" ]; then
    say "restic $v template: cached"
  else
    bin=$R14; [ "$v" = 0.18 ] && bin=$R18
    make_template "$v" "$bin" & template_pids+=($!)
    say "restic $v template: restic init started (background)"
  fi
done

# ---------------------------------------------------------------------------------------------------------------
# 2. PostgreSQL and MariaDB (background: each needs ~1 s to initialize and start)
# ---------------------------------------------------------------------------------------------------------------
pg_pid() { head -1 "$KB_LAB/pg/data/postmaster.pid" 2>/dev/null || true; }
start_postgres() {
  if alive "$(pg_pid)"; then
    pg_pid > "$KB_LAB/run/postgres.pid"; say "postgres: already running (pid $(pg_pid))"; return 0
  fi
  port_must_be_free postgres "$PG_PORT"
  install -d -o postgres -g postgres -m 755 "$KB_LAB/pg" "$KB_LAB/pg/run"
  if [ ! -f "$KB_LAB/pg/data/PG_VERSION" ]; then
    rm -rf "$KB_LAB/pg/data"
    # initdb refuses root. The superuser password comes from a file readable only by postgres (never argv).
    local pw="$KB_LAB/pg/.pw"
    (umask 077; printf '%s\n' "$PG_SUPER_PW" > "$pw"); chown postgres "$pw"
    runuser -u postgres -- "$PGBIN/initdb" -D "$KB_LAB/pg/data" -U postgres --pwfile="$pw" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions \
      >"$KB_LAB/logs/postgres-initdb.log" 2>&1 || { cat "$KB_LAB/logs/postgres-initdb.log" >&2; rm -f "$pw"; return 1; }
    rm -f "$pw"
    say "postgres: initdb done"
  fi
  rm -f "$KB_LAB/pg/data/postmaster.pid"   # stale after a crash; the alive() check above said it is not running
  : > "$KB_LAB/logs/postgres.log"; chown postgres "$KB_LAB/logs/postgres.log"
  # fsync/full_page_writes/synchronous_commit off: throwaway data, faster tests.
  setsid runuser -u postgres -- "$PGBIN/pg_ctl" -D "$KB_LAB/pg/data" -l "$KB_LAB/logs/postgres.log" -w -t 30 -s \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $KB_LAB/pg/run -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
    start </dev/null 8>&- || { tail -n 30 "$KB_LAB/logs/postgres.log" >&2; return 1; }
  pg_pid > "$KB_LAB/run/postgres.pid"
  # Role kbapp (idempotent), over the unix socket where local auth is trust.
  "$PGBIN/psql" -h "$KB_LAB/pg/run" -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_USER') THEN
    CREATE ROLE $PG_APP_USER LOGIN CREATEDB PASSWORD '$PG_APP_PW';
  END IF;
END \$\$;
SQL
  say "postgres: started pid $(pg_pid) on 127.0.0.1:$PG_PORT"
}

start_mariadb() {
  if running mariadb; then say "mariadb: already running (pid $(pid_of mariadb))"; return 0; fi
  port_must_be_free mariadb "$MY_PORT"
  install -d -o mysql -g mysql -m 755 "$KB_LAB/my"
  install -d -o mysql -g mysql -m 750 "$KB_LAB/my/tmp"
  if [ ! -d "$KB_LAB/my/data/mysql" ]; then
    rm -rf "$KB_LAB/my/data"
    # --no-defaults everywhere: never read /etc/mysql (the packaged config points at system paths).
    mariadb-install-db --no-defaults --user=mysql --datadir="$KB_LAB/my/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$KB_LAB/logs/mariadb-install.log" 2>&1 || { cat "$KB_LAB/logs/mariadb-install.log" >&2; return 1; }
    say "mariadb: install-db done"
  fi
  rm -f "$KB_LAB/my/mysqld.sock" "$KB_LAB/my/mysqld.pid"
  spawn mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$KB_LAB/my/data" \
    --socket="$KB_LAB/my/mysqld.sock" --port="$MY_PORT" --bind-address=127.0.0.1 --pid-file="$KB_LAB/my/mysqld.pid" \
    --tmpdir="$KB_LAB/my/tmp" --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 --skip-innodb-doublewrite --max-connections=200
  local i
  for i in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$KB_LAB/my/mysqld.sock" -uroot ping >/dev/null 2>&1 && break
    running mariadb || { tail -n 30 "$KB_LAB/logs/mariadb.log" >&2; echo "mariadbd exited while starting" >&2; return 1; }
    sleep 0.05
  done
  mariadb --no-defaults --socket="$KB_LAB/my/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS '$MY_USER'@'127.0.0.1' IDENTIFIED BY '$MY_PW';
CREATE USER IF NOT EXISTS '$MY_USER'@'localhost' IDENTIFIED BY '$MY_PW';
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'localhost' WITH GRANT OPTION;
SQL
  say "mariadb: started pid $(pid_of mariadb) on 127.0.0.1:$MY_PORT"
}
start_postgres & pg_job=$!
start_mariadb & my_job=$!

# ---------------------------------------------------------------------------------------------------------------
# 3. SSH: keys, known_hosts, ssh_config, sshd #1 (target host) and sshd #2 (jump host)
# ---------------------------------------------------------------------------------------------------------------
K=$KB_LAB/keys
[ -f "$K/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kb-lab-client -f "$K/id_ed25519"
[ -f "$KB_LAB/sshd/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C kb-lab-host -f "$KB_LAB/sshd/host_ed25519_key"
[ -f "$KB_LAB/sshd/jump_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C kb-lab-jump -f "$KB_LAB/sshd/jump_ed25519_key"
cp "$K/id_ed25519.pub" "$K/authorized_keys"
chmod 644 "$K/authorized_keys"     # sshd reads it as the target user: a root-only 0600 file fails for kbdeploy
HOST_PUB=$(cut -d' ' -f1,2 "$KB_LAB/sshd/host_ed25519_key.pub")
JUMP_PUB=$(cut -d' ' -f1,2 "$KB_LAB/sshd/jump_ed25519_key.pub")
HOST_FP=$(ssh-keygen -lf "$KB_LAB/sshd/host_ed25519_key.pub" | awk '{print $2}')
JUMP_FP=$(ssh-keygen -lf "$KB_LAB/sshd/jump_ed25519_key.pub" | awk '{print $2}')
printf '%s\n' "$HOST_FP" > "$K/host_fingerprint"
printf '%s\n' "$JUMP_FP" > "$K/jump_host_fingerprint"
# Port != 22, so the known_hosts form is "[host]:port key".
printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$SSH_PORT" "$HOST_PUB" "$JUMP_PORT" "$JUMP_PUB" > "$K/known_hosts"
REMOTE_PATH=$KB_LAB/remote-bin:/usr/local/bin:/usr/bin:/bin
ssh_host_block() { # alias port [extra lines]
  cat <<EOF
Host $1
  HostName 127.0.0.1
  Port $2
  User $SSH_USER
  IdentityFile $K/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $K/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  BatchMode yes
  ControlMaster no
  ControlPath none
  LogLevel ERROR
${3:-}
EOF
}
{
  echo "# kamal-backup test lab. Use: ssh -F $K/ssh_config kblab CMD"
  echo "#   kblab           sshd #1 (the accessory host), 127.0.0.1:$SSH_PORT"
  echo "#   kblab-jump      sshd #2 (jump host), 127.0.0.1:$JUMP_PORT"
  echo "#   kblab-via-jump  sshd #1 reached through sshd #2 (same as: ssh -F this -J kblab-jump kblab)"
  echo "# restic: -o sftp.command='ssh -F $K/ssh_config kblab -s sftp' -r sftp:kblab:/abs/path"
  ssh_host_block kblab "$SSH_PORT"
  ssh_host_block kblab-jump "$JUMP_PORT"
  ssh_host_block kblab-via-jump "$SSH_PORT" "  ProxyJump kblab-jump"
} > "$K/ssh_config"
chmod 600 "$K/id_ed25519"; chmod 644 "$K/ssh_config" "$K/known_hosts"

write_sshd_config() { # file port hostkey forwarding
  cat > "$1" <<EOF
# kamal-backup test lab sshd (written by test/lab/up.sh)
ListenAddress 127.0.0.1
Port $2
HostKey $3
# We record the PID ourselves ($KB_LAB/run/*.pid).
PidFile none
AuthorizedKeysFile $K/authorized_keys
AllowUsers $SSH_USER
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: no pam_systemd/pam_motd latency, no system session bookkeeping. Needs the '*' password (not '!').
UsePAM no
# The lab lives under /tmp (world-writable), which StrictModes rejects.
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding $4
MaxSessions 50
MaxStartups 100:30:200
# Like Debian's stock sshd_config: the client can only pass LANG/LC_*, so code must not rely on sending env.
AcceptEnv LANG LC_*
# The accessory host's docker (and anything else the remote side needs) goes first on every session's PATH.
SetEnv PATH=$REMOTE_PATH
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
}
write_sshd_config "$KB_LAB/sshd/sshd_config" "$SSH_PORT" "$KB_LAB/sshd/host_ed25519_key" no
write_sshd_config "$KB_LAB/sshd/sshd_jump_config" "$JUMP_PORT" "$KB_LAB/sshd/jump_ed25519_key" yes
start_sshd() { # name port config
  if running "$1"; then say "$1: already running (pid $(pid_of "$1"))"; return 0; fi
  port_must_be_free "$1" "$2"
  /usr/sbin/sshd -t -f "$3" || die "$1: sshd -t rejected $3"
  spawn "$1" /usr/sbin/sshd -D -e -f "$3"
  STARTED+=("$1:$2")
}
STARTED=()
start_sshd sshd "$SSH_PORT" "$KB_LAB/sshd/sshd_config"
start_sshd sshd-jump "$JUMP_PORT" "$KB_LAB/sshd/sshd_jump_config"

# ---------------------------------------------------------------------------------------------------------------
# 4. restic REST servers: rclone serve restic, one without and one with basic auth
# ---------------------------------------------------------------------------------------------------------------
[ -f "$KB_LAB/rest/rclone.conf" ] || : > "$KB_LAB/rest/rclone.conf"   # an empty config: never read ~/.config/rclone
start_rest() { # name port dir [auth args]
  local name=$1 port=$2 dir=$3; shift 3
  if running "$name"; then say "$name: already running (pid $(pid_of "$name"))"; return 0; fi
  port_must_be_free "$name" "$port"
  spawn "$name" /usr/bin/rclone serve restic --config "$KB_LAB/rest/rclone.conf" --addr "127.0.0.1:$port" "$@" "$dir"
  STARTED+=("$name:$port")
}
start_rest rest "$REST_PORT" "$KB_LAB/rest/noauth"
start_rest rest-auth "$REST_AUTH_PORT" "$KB_LAB/rest/auth" --user "$REST_USER" --pass "$REST_PW"

# ---------------------------------------------------------------------------------------------------------------
# 5. S3: s3rver 3.7.1 over HTTPS with a self-signed certificate for IP 127.0.0.1
# ---------------------------------------------------------------------------------------------------------------
if ! openssl x509 -checkend 86400 -noout -in "$KB_LAB/tls/cert.pem" >/dev/null 2>&1; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$KB_LAB/tls/key.pem" -out "$KB_LAB/tls/cert.pem" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1
  chmod 644 "$KB_LAB/tls/cert.pem"; chmod 600 "$KB_LAB/tls/key.pem"
  say "s3: generated self-signed certificate $KB_LAB/tls/cert.pem"
fi
cat > "$KB_LAB/node/s3rver-run.cjs" <<'EOF'
// Started by test/lab/up.sh: s3rver over HTTPS on 127.0.0.1 with one bucket. argv: port dir bucket cert key
const fs = require('fs')
const S3rver = require('s3rver')
const [port, directory, bucket, cert, key] = process.argv.slice(2)
const server = new S3rver({
  address: '127.0.0.1', port: Number(port), directory, silent: true,
  configureBuckets: [{name: bucket}], cert: fs.readFileSync(cert), key: fs.readFileSync(key),
})
server.run().then(({address, port}) => console.log(`s3rver listening on https://${address}:${port}, bucket ${bucket}`),
  (err) => { console.error(err); process.exit(1) })
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close().finally(() => process.exit(0)))
EOF
if running s3rver; then
  say "s3rver: already running (pid $(pid_of s3rver))"
else
  port_must_be_free s3rver "$S3_PORT"
  spawn s3rver node "$KB_LAB/node/s3rver-run.cjs" "$S3_PORT" "$KB_LAB/s3/data" "$S3_BUCKET" "$KB_LAB/tls/cert.pem" "$KB_LAB/tls/key.pem"
  STARTED+=("s3rver:$S3_PORT")
fi

# ---------------------------------------------------------------------------------------------------------------
# 6. tmpfs for "restore into a mount point" tests
# ---------------------------------------------------------------------------------------------------------------
if mountpoint -q "$KB_LAB/mnt/volume"; then
  say "tmpfs: $KB_LAB/mnt/volume already mounted"
else
  mount -t tmpfs -o size=256m,mode=0777 kb-lab-volume "$KB_LAB/mnt/volume" || die "cannot mount a tmpfs on $KB_LAB/mnt/volume"
  say "tmpfs: mounted $KB_LAB/mnt/volume (256 MiB)"
fi
# The tests' scratch space is a mount of its own (bound onto itself), as an accessory's data is a Docker volume:
# inside the accessory (KAMAL_BACKUP_IN_ACCESSORY=1) a path to back up must be on a mounted volume, and the tests'
# apps live here; the lab's accessory containers mount it at the same path.
if mountpoint -q "$KB_LAB/shared/tmp"; then
  say "bind mount: $KB_LAB/shared/tmp already mounted"
else
  mount --bind "$KB_LAB/shared/tmp" "$KB_LAB/shared/tmp" || die "cannot bind-mount $KB_LAB/shared/tmp onto itself"
  say "bind mount: $KB_LAB/shared/tmp (the tests' volumes)"
fi

# ---------------------------------------------------------------------------------------------------------------
# 7. wait for everything, then health checks (these also run when the lab was already up)
# ---------------------------------------------------------------------------------------------------------------
for s in "${STARTED[@]}"; do
  wait_port "${s%%:*}" "${s##*:}"
  say "${s%%:*}: started pid $(pid_of "${s%%:*}") on 127.0.0.1:${s##*:}"
done
wait "$pg_job" || die "postgres did not start (logs: $KB_LAB/logs/postgres*.log)"
wait "$my_job" || die "mariadb did not start (logs: $KB_LAB/logs/mariadb*.log)"
for p in "${template_pids[@]}"; do wait "$p" || die "restic template init failed (logs: $KB_LAB/logs/template-*.log)"; done
[ ${#template_pids[@]} = 0 ] || say "restic templates ready"

fails=()
check() { # name cmd... (output captured; shown on failure)
  local name=$1 out; shift
  if out=$("$@" 2>&1); then return 0; fi
  fails+=("$name: $(printf '%s' "$out" | tail -n 5)")
}
SSHC=(timeout 20 ssh -F "$K/ssh_config")
# The two ssh checks run in the background (~150 ms each) while the others run.
"${SSHC[@]}" kblab 'echo "$(id -un) $PATH"' > "$KB_LAB/run/check-ssh.out" 2>&1 & ssh_job=$!
"${SSHC[@]}" -J kblab-jump kblab 'id -un' > "$KB_LAB/run/check-jump.out" 2>&1 & jump_job=$!
check "postgres superuser password login" env PGPASSWORD="$PG_SUPER_PW" PGCONNECT_TIMEOUT=5 \
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAtc 'select 1'
check "postgres $PG_APP_USER password login" env PGPASSWORD="$PG_APP_PW" PGCONNECT_TIMEOUT=5 \
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_APP_USER" -d postgres -qAtc 'select 1'
check "mariadb $MY_USER password login" env MYSQL_PWD="$MY_PW" \
  timeout 10 mariadb --no-defaults --connect-timeout=5 -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" -Ne 'select 1'
# REST without auth answers, REST with auth says 401 without credentials and not with them, S3 speaks TLS with our CA.
check "rest/s3 http" timeout 15 node -e '
  const http = require("http"), https = require("https"), fs = require("fs")
  const [restPort, authPort, s3Port, user, pass, ca] = process.argv.slice(1)
  const get = (mod, opts) => new Promise((res, rej) => { const r = mod.get({host: "127.0.0.1", timeout: 5000, ...opts}, (m) => { m.resume(); res(m.statusCode) }); r.on("error", rej); r.on("timeout", () => r.destroy(new Error("timeout"))) })
  ;(async () => {
    const a = await get(http, {port: restPort, path: "/kb-health/config"})
    const b = await get(http, {port: authPort, path: "/kb-health/config"})
    const c = await get(http, {port: authPort, path: "/kb-health/config", auth: user + ":" + pass})
    const d = await get(https, {port: s3Port, path: "/", ca: fs.readFileSync(ca)})
    if (a === 401 || b !== 401 || c === 401) throw new Error(`rest statuses: noauth ${a}, auth without creds ${b}, with creds ${c}`)
    if (!(d >= 200 && d < 500)) throw new Error(`s3 status ${d}`)
  })().catch((e) => { console.error(e.message); process.exit(1) })' \
  "$REST_PORT" "$REST_AUTH_PORT" "$S3_PORT" "$REST_USER" "$REST_PW" "$KB_LAB/tls/cert.pem"
check "tmpfs mounted" mountpoint -q "$KB_LAB/mnt/volume"
check "scratch space mounted" mountpoint -q "$KB_LAB/shared/tmp"
for s in postgres mariadb sshd sshd-jump rest rest-auth s3rver; do
  running "$s" || fails+=("$s: not running (pid file $KB_LAB/run/$s.pid: '$(pid_of "$s")')")
done
if ! wait "$ssh_job" || [ "$(cat "$KB_LAB/run/check-ssh.out")" != "$SSH_USER $REMOTE_PATH" ]; then
  fails+=("ssh -F $K/ssh_config kblab (want '$SSH_USER $REMOTE_PATH'): $(tail -n 5 "$KB_LAB/run/check-ssh.out")")
fi
if ! wait "$jump_job" || [ "$(cat "$KB_LAB/run/check-jump.out")" != "$SSH_USER" ]; then
  fails+=("ssh -F $K/ssh_config -J kblab-jump kblab: $(tail -n 5 "$KB_LAB/run/check-jump.out")")
fi
rm -f "$KB_LAB/run/check-ssh.out" "$KB_LAB/run/check-jump.out"
if [ ${#fails[@]} -gt 0 ]; then
  printf '  FAILED %s\n' "${fails[@]}" >&2
  die "${#fails[@]} health check(s) failed; logs in $KB_LAB/logs"
fi
say "health checks passed (ssh, ssh -J, postgres, mariadb, rest, rest+auth, s3 https, tmpfs)"

# ---------------------------------------------------------------------------------------------------------------
# 8. env.json (for test/support/lab.ts) and env.sh (for humans: `. /tmp/kb-lab/env.sh`)
# ---------------------------------------------------------------------------------------------------------------
R14_VERSION=$("$R14" version | cut -d' ' -f2)
R18_VERSION=$("$R18" version | cut -d' ' -f2)
PG_VERSION=$("$PGBIN/postgres" --version | awk '{print $3}')
MY_VERSION=$(/usr/sbin/mariadbd --version | sed -n 's/.*Ver \([0-9.]*\).*/\1/p')
SSH_VERSION=$(ssh -V 2>&1 | cut -d, -f1)
SFTP_COMMAND="ssh -F $K/ssh_config kblab -s sftp"
cat > "$KB_LAB/env.json.tmp" <<EOF
{
  "version": 1,
  "root": "$KB_LAB",
  "writtenAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "restic": [
    {"version": "0.14", "fullVersion": "$R14_VERSION", "bin": "$R14", "template": "$KB_LAB/templates/restic-0.14"},
    {"version": "0.18", "fullVersion": "$R18_VERSION", "bin": "$R18", "template": "$KB_LAB/templates/restic-0.18"}
  ],
  "resticPassword": "$RESTIC_PW",
  "resticCacheDir": "$KB_LAB/cache",
  "postgres": {
    "host": "127.0.0.1", "port": $PG_PORT, "socketDir": "$KB_LAB/pg/run", "version": "$PG_VERSION", "binDir": "$PGBIN",
    "superuser": "postgres", "superuserPassword": "$PG_SUPER_PW", "appUser": "$PG_APP_USER", "appPassword": "$PG_APP_PW",
    "dataDir": "$KB_LAB/pg/data"
  },
  "mariadb": {
    "host": "127.0.0.1", "port": $MY_PORT, "socket": "$KB_LAB/my/mysqld.sock", "version": "$MY_VERSION",
    "user": "$MY_USER", "password": "$MY_PW", "rootSocketUser": "root", "dataDir": "$KB_LAB/my/data"
  },
  "ssh": {
    "host": "127.0.0.1", "port": $SSH_PORT, "user": "$SSH_USER", "uid": $SSH_UID, "gid": $SSH_GID, "group": "$LAB_GROUP",
    "home": "$KB_LAB/home/$SSH_USER", "privateKey": "$K/id_ed25519", "publicKey": "$K/id_ed25519.pub",
    "knownHosts": "$K/known_hosts", "hostKeyFingerprint": "$HOST_FP", "hostPublicKey": "$HOST_PUB",
    "config": "$K/ssh_config", "alias": "kblab", "viaJumpAlias": "kblab-via-jump", "remotePath": "$REMOTE_PATH",
    "clientVersion": "$SSH_VERSION"
  },
  "jump": {
    "host": "127.0.0.1", "port": $JUMP_PORT, "user": "$SSH_USER", "hostKeyFingerprint": "$JUMP_FP",
    "hostPublicKey": "$JUMP_PUB", "alias": "kblab-jump"
  },
  "rest": {
    "noauth": {"host": "127.0.0.1", "port": $REST_PORT, "url": "rest:http://127.0.0.1:$REST_PORT", "dir": "$KB_LAB/rest/noauth"},
    "auth": {"host": "127.0.0.1", "port": $REST_AUTH_PORT, "url": "rest:http://127.0.0.1:$REST_AUTH_PORT",
             "urlWithCredentials": "rest:http://$REST_USER:$REST_PW@127.0.0.1:$REST_AUTH_PORT",
             "user": "$REST_USER", "password": "$REST_PW", "dir": "$KB_LAB/rest/auth"}
  },
  "s3": {
    "host": "127.0.0.1", "port": $S3_PORT, "endpoint": "https://127.0.0.1:$S3_PORT", "bucket": "$S3_BUCKET",
    "url": "s3:https://127.0.0.1:$S3_PORT/$S3_BUCKET", "accessKeyId": "$S3_KEY", "secretAccessKey": "$S3_SECRET",
    "caCert": "$KB_LAB/tls/cert.pem", "dir": "$KB_LAB/s3/data"
  },
  "sftp": {"root": "$KB_LAB/sftp", "hostAlias": "kblab", "urlPrefix": "sftp:kblab:", "command": "$SFTP_COMMAND"},
  "mountPoint": "$KB_LAB/mnt/volume",
  "shared": "$KB_LAB/shared",
  "tmp": "$KB_LAB/shared/tmp",
  "remoteBin": "$KB_LAB/remote-bin",
  "logs": "$KB_LAB/logs",
  "bins": {"sqlite3": "/usr/bin/sqlite3", "ssh": "/usr/bin/ssh", "rclone": "/usr/bin/rclone", "mariadb": "/usr/bin/mariadb",
           "mariadbDump": "/usr/bin/mariadb-dump", "psql": "$PGBIN/psql", "pgDump": "$PGBIN/pg_dump", "pgRestore": "$PGBIN/pg_restore"}
}
EOF
node -e 'const fs=require("fs");const f=process.argv[1];fs.writeFileSync(f,JSON.stringify(JSON.parse(fs.readFileSync(f+".tmp","utf8")),null,2)+"\n");fs.unlinkSync(f+".tmp")' "$KB_LAB/env.json"
cat > "$KB_LAB/env.sh" <<EOF
# kamal-backup test lab — for humans:  . $KB_LAB/env.sh   (tests read env.json instead)
export KB_LAB=$KB_LAB
export RESTIC_PASSWORD=$RESTIC_PW RESTIC_CACHE_DIR=$KB_LAB/cache
export KB_RESTIC_014=$R14 KB_RESTIC_018=$R18
export KB_RESTIC_TEMPLATE_014=$KB_LAB/templates/restic-0.14 KB_RESTIC_TEMPLATE_018=$KB_LAB/templates/restic-0.18
# PostgreSQL $PG_VERSION (superuser; the app role is $PG_APP_USER / $PG_APP_PW)
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGPASSWORD=$PG_SUPER_PW
# MariaDB $MY_VERSION: mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -u $MY_USER   (MYSQL_PWD is read by the client)
export KB_MARIADB_PORT=$MY_PORT KB_MARIADB_SOCKET=$KB_LAB/my/mysqld.sock KB_MARIADB_USER=$MY_USER MYSQL_PWD=$MY_PW
# SSH: ssh -F \$KB_SSH_CONFIG kblab | kblab-jump | kblab-via-jump   (user $SSH_USER)
export KB_SSH_CONFIG=$K/ssh_config KB_SSH_KEY=$K/id_ed25519 KB_SSH_KNOWN_HOSTS=$K/known_hosts
export KB_SSH_PORT=$SSH_PORT KB_SSH_JUMP_PORT=$JUMP_PORT KB_SSH_USER=$SSH_USER KB_SSH_HOST_FP=$HOST_FP KB_SSH_JUMP_FP=$JUMP_FP
# Repositories: append /<name>. S3 needs --cacert \$KB_S3_CACERT. SFTP needs -o sftp.command="\$KB_SFTP_COMMAND".
export KB_REST_URL=rest:http://127.0.0.1:$REST_PORT KB_REST_AUTH_URL=rest:http://$REST_USER:$REST_PW@127.0.0.1:$REST_AUTH_PORT
export KB_S3_URL=s3:https://127.0.0.1:$S3_PORT/$S3_BUCKET KB_S3_CACERT=$KB_LAB/tls/cert.pem AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET
export KB_SFTP_URL=sftp:kblab:$KB_LAB/sftp KB_SFTP_COMMAND="$SFTP_COMMAND"
export KB_MOUNT_POINT=$KB_LAB/mnt/volume KB_SHARED=$KB_LAB/shared KB_REMOTE_BIN=$KB_LAB/remote-bin
EOF
say "lab up: $KB_LAB/env.json (humans: . $KB_LAB/env.sh)"
