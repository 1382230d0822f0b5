#!/usr/bin/env bash
# scripts/setup.sh [--test] — install what kamal-backup needs on a Debian 12 machine (root, apt, npm). Idempotent.
#
#   bash scripts/setup.sh            what the demo needs: apt restic + sqlite3, node_modules (npm ci / npm install
#                                    when missing or stale), then `npm run build` when package.json has one
#   bash scripts/setup.sh --test     also everything the test lab needs (test/lab/up.sh): openssh, postgresql,
#                                    mariadb, rclone, ...; restic 0.18 from Debian trixie into
#                                    $KB_LAB/bin/restic-0.18; s3rver 3.7.1 into $KB_LAB/node (never into the project's
#                                    package.json); checkers for generated files (test/support/lab.ts checkers()): podman 5's
#                                    quadlet generator and Docker Compose v2, both unpacked from Debian trixie debs
#   bash scripts/setup.sh --lab-only only the lab part of --test (no npm ci / build); test/lab/up.sh calls this when
#                                    something is missing
#
# Env: KB_LAB (default /tmp/kb-lab), KB_SETUP_SKIP_BUILD=1 (test-all.sh builds on its own).
# Fast path: when every apt package is already installed we do not run `apt-get update` at all (~20 ms check).
# Progress lines go to stderr as "[setup   1.2s] ...".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KB_LAB=${KB_LAB:-/tmp/kb-lab}
WANT_TEST=0
WANT_NODE=1
for arg in "$@"; do
  case "$arg" in
    --test) WANT_TEST=1 ;;
    --lab-only) WANT_TEST=1; WANT_NODE=0 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg (expected --test or --lab-only)" >&2; exit 2 ;;
  esac
done

T0=${EPOCHREALTIME/./}
say() { # timed progress line on stderr
  local now=${EPOCHREALTIME/./}
  local ms=$(( (now - T0) / 1000 ))
  printf '[setup %3d.%01ds] %s\n' $((ms / 1000)) $(((ms % 1000) / 100)) "$*" >&2
}
die() { printf '\nsetup.sh: ERROR: %s\n\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------------------------------------------------------
# 0. One setup at a time: two engineers (or CI + a human) running this at once would fight over dpkg, npm ci and
#    the restic 0.18 download. flock comes with util-linux, which Debian always has.
# ---------------------------------------------------------------------------------------------------------------
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/kamal-backup-setup.lock"
  flock -w 900 9 || die "another scripts/setup.sh has held ${TMPDIR:-/tmp}/kamal-backup-setup.lock for 15 minutes"
fi

# ---------------------------------------------------------------------------------------------------------------
# 1. apt packages. Only packages that are missing are installed, and `apt-get update` runs only then.
# ---------------------------------------------------------------------------------------------------------------
PKGS=(restic sqlite3)
if [ "$WANT_TEST" = 1 ]; then
  # chromium: the HTML report is opened in a real browser (headless, through playwright-core; never downloaded).
  PKGS+=(openssh-server openssh-client postgresql mariadb-server mariadb-client rclone iproute2 openssl procps util-linux prometheus tmux faketime podman runc debootstrap podman-docker sudo patch chromium)
fi
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "apt: all ${#PKGS[@]} packages already installed (no apt-get update)"
else
  is_root || die "these Debian packages are missing: ${missing[*]}. Installing them needs root (run as root, e.g. sudo bash scripts/setup.sh $*)."
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script expects Debian 12 (bookworm). Missing: ${missing[*]}"
  # Without policy-rc.d the postinst scripts would start sshd on 0.0.0.0:22 and a system mariadb. We want the
  # packages' binaries only; the lab starts its own servers on 127.0.0.1.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# added by kamal-backup scripts/setup.sh: never start services from package scripts\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    say "apt: created /usr/sbin/policy-rc.d (exit 101) so package scripts start no services"
  else
    rc=0; /usr/sbin/policy-rc.d fake-service start >/dev/null 2>&1 || rc=$?
    [ "$rc" = 101 ] || die "/usr/sbin/policy-rc.d exists but exits $rc, not 101: installing ${missing[*]} would start system services. Make it exit 101 first."
  fi
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp /tmp/kb-setup-apt.XXXXXX.log)
  say "apt: missing ${missing[*]}; apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed (log above)"; }
  say "apt: installing ${#missing[@]} package(s)"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
    || { tail -n 40 "$log" >&2; die "apt-get install ${missing[*]} failed (last lines above, full log $log)"; }
  rm -f "$log"
  say "apt: installed ${missing[*]}"
fi

# ---------------------------------------------------------------------------------------------------------------
# 2. node_modules (npm ci when package-lock.json matches package.json, else npm install), then the build.
# ---------------------------------------------------------------------------------------------------------------
if [ "$WANT_NODE" = 1 ]; then
  command -v node >/dev/null 2>&1 || die "node not found (the project needs Node >= 20.19)"
  command -v npm >/dev/null 2>&1 || die "npm not found"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node $(node --version) is too old: package.json wants >= 20.19"
  # Prints "ok", or why node_modules is missing/stale. Reads only package.json, package-lock.json and the
  # package.json of every locked package (~100 ms). Optional packages for other platforms are allowed to be absent.
  state=$(cd "$ROOT" && node -e '
    const fs = require("fs"), path = require("path")
    const read = (f) => JSON.parse(fs.readFileSync(f, "utf8"))
    if (!fs.existsSync("node_modules")) { console.log("missing node_modules"); process.exit(0) }
    if (!fs.existsSync("package-lock.json")) { console.log("nolock"); process.exit(0) }
    const pkg = read("package.json"), lock = read("package-lock.json")
    const norm = (o) => JSON.stringify(Object.entries(o ?? {}).sort())
    const rootEntry = (lock.packages ?? {})[""] ?? {}
    for (const k of ["dependencies", "devDependencies", "optionalDependencies"])
      if (norm(rootEntry[k]) !== norm(pkg[k])) { console.log("lock-out-of-sync " + k); process.exit(0) }
    for (const [p, e] of Object.entries(lock.packages ?? {})) {
      if (!p || e.link) continue
      let v
      try { v = read(path.join(p, "package.json")).version } catch { if (e.optional || e.devOptional || e.peer) continue; console.log("stale " + p + " missing"); process.exit(0) }
      if (e.version && v !== e.version) { console.log("stale " + p + " " + v + " != " + e.version); process.exit(0) }
    }
    console.log("ok")')
  case "$state" in
    ok) say "npm: node_modules matches package-lock.json" ;;
    nolock|lock-out-of-sync*)
      say "npm: $state -> npm install"
      (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error >&2) || die "npm install failed" ;;
    *)
      say "npm: $state -> npm ci"
      (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed" ;;
  esac
  [ "$state" = ok ] || say "npm: dependencies installed"

  if [ "${KB_SETUP_SKIP_BUILD:-0}" = 1 ]; then
    say "build: skipped (KB_SETUP_SKIP_BUILD=1)"
  else
    build=$(cd "$ROOT" && node -p 'require("./package.json").scripts?.build ?? ""')
    entry=$(printf '%s' "$build" | sed -n 's/^node \([^ ]*\).*/\1/p')
    if [ -z "$build" ]; then
      say "build: package.json has no build script, skipped"
    elif [ -n "$entry" ] && [ ! -e "$ROOT/$entry" ]; then
      # The build script is being written by another engineer; until it exists this is not an error.
      say "build: WARNING: '$build' refers to $entry, which does not exist yet; skipped"
    else
      say "build: npm run build"
      (cd "$ROOT" && npm run --silent build >&2) || die "npm run build failed"
      say "build: done"
    fi
  fi
fi

[ "$WANT_TEST" = 1 ] || { say "done (demo dependencies)"; exit 0; }

# ---------------------------------------------------------------------------------------------------------------
# 3. Lab-only downloads, cached under $KB_LAB (test/lab/down.sh keeps them; only `down.sh --wipe` removes them).
# ---------------------------------------------------------------------------------------------------------------
is_root || die "--test needs root: the lab creates a user, mounts a tmpfs and runs postgres/mariadb as their own users"
case "$KB_LAB" in /*) ;; *) die "KB_LAB must be an absolute path (got '$KB_LAB')" ;; esac
mkdir -p "$KB_LAB/bin" "$KB_LAB/node"
chmod 755 "$KB_LAB"

# Debian trixie packages that bookworm lacks are fetched with a private apt configuration and unpacked with
# dpkg -x (never installed): the system's apt state (sources, lists, cache, dpkg status) is never touched. One
# private sources.list / lists dir / cache dir under $KB_LAB/apt, its index fetched at most once per run (~3 s).
A="$KB_LAB/apt"
TRIXIE_INDEX=0
trixie_download() { # PKG... -> $A/PKG_*.deb (older copies removed first)
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot fetch $* from Debian trixie"
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
  local -a TO=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/nonexistent
                -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o APT::Sandbox::User=root
                -o Acquire::Languages=none)
  if [ "$TRIXIE_INDEX" = 0 ]; then
    # The mirror this machine already uses for bookworm, asked for trixie instead.
    local mirror
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    echo "deb $mirror trixie main" > "$A/sources.list"
    say "trixie: fetching the package index from $mirror into $A"
    apt-get "${TO[@]}" update -qq >&2 || die "apt-get update of the private trixie index ($A) failed"
    TRIXIE_INDEX=1
  fi
  local p want=()
  for p in "$@"; do rm -f "$A/${p}"_*.deb; want+=("$p/trixie"); done
  (cd "$A" && apt-get "${TO[@]}" download -qq "${want[@]}" >&2) || die "apt-get download ${want[*]} failed"
}

# 3a. restic 0.18 from Debian trixie. Its only dependency is libc6 >= 2.34 (bookworm has 2.36).
R18="$KB_LAB/bin/restic-0.18"
if [ -x "$R18" ] && "$R18" version 2>/dev/null | grep -q '^restic 0\.18\.'; then
  say "restic 0.18: cached ($("$R18" version | cut -d' ' -f1-2))"
else
  trixie_download restic
  rm -rf "$A/x"; mkdir -p "$A/x"
  dpkg -x "$A"/restic_*.deb "$A/x"
  install -m 755 "$A/x/usr/bin/restic" "$R18.tmp" && mv -f "$R18.tmp" "$R18"
  "$R18" version | grep -q '^restic 0\.18\.' || die "trixie's restic is not 0.18.x: $("$R18" version)"
  say "restic 0.18: installed $("$R18" version | cut -d' ' -f1-2) at $R18"
fi

# 3b. s3rver 3.7.1 in its own node prefix, so the project's package.json / lock stay untouched.
S3V=$(node -p 'try{require(process.argv[1]).version}catch{""}' "$KB_LAB/node/node_modules/s3rver/package.json" 2>/dev/null || true)
if [ "$S3V" = 3.7.1 ]; then
  say "s3rver: cached (3.7.1 in $KB_LAB/node)"
else
  say "s3rver: npm install s3rver@3.7.1 into $KB_LAB/node"
  [ -f "$KB_LAB/node/package.json" ] || printf '{"name":"kb-lab-node","private":true}\n' > "$KB_LAB/node/package.json"
  (cd "$KB_LAB/node" && npm install --no-audit --no-fund --loglevel=error --no-package-lock s3rver@3.7.1 >&2) \
    || die "npm install s3rver@3.7.1 failed"
  say "s3rver: installed"
fi

# 3c. The quadlet generator (test/support/lab.ts checkers().quadlet) from trixie's podman 5.4 package: bookworm's podman
#     4.3 has none. Only the binary is kept (the whole package unpacks to 85 MB); it needs nothing but libc >= 2.34.
#     Used as: QUADLET_UNIT_DIRS=DIR $KB_LAB/quadlet/usr/libexec/podman/quadlet -dryrun   (never installed as a systemd generator).
QL="$KB_LAB/quadlet/usr/libexec/podman/quadlet"
if [ -x "$QL" ] && "$QL" -version 2>/dev/null | grep -q '^5\.'; then
  say "quadlet: cached ($("$QL" -version) at $QL)"
else
  trixie_download podman
  rm -rf "$A/x-podman" "$KB_LAB/quadlet"; mkdir -p "$A/x-podman"
  dpkg -x "$A"/podman_*.deb "$A/x-podman"
  install -D -m 755 "$A/x-podman/usr/libexec/podman/quadlet" "$QL"
  rm -rf "$A/x-podman" "$A"/podman_*.deb
  "$QL" -version 2>/dev/null | grep -q '^5\.' || die "trixie's quadlet does not run or is not 5.x: $("$QL" -version 2>&1 | head -n 3)"
  say "quadlet: installed $("$QL" -version) at $QL"
fi

# 3d. Docker Compose v2 (test/support/lab.ts checkers().compose) from trixie's docker-compose 2.26 package, a Go binary
#     that needs only libc >= 2.34. `docker-compose-2 -f a.yaml -f b.yaml config -q` merges and validates against the
#     Compose Specification schema without a daemon. bookworm's podman-compose 1.0.3 has no `config` and ignores
#     unknown keys; bookworm's docker-compose 1.29 rejects valid Compose-Spec files (top-level name:, ...).
DC2="$KB_LAB/bin/docker-compose-2"
if [ -x "$DC2" ] && "$DC2" version --short 2>/dev/null | grep -q '^2\.'; then
  say "docker compose v2: cached ($("$DC2" version --short) at $DC2)"
else
  trixie_download docker-compose
  rm -rf "$A/x-compose"; mkdir -p "$A/x-compose"
  dpkg -x "$A"/docker-compose_*.deb "$A/x-compose"
  install -m 755 "$A/x-compose/usr/libexec/docker/cli-plugins/docker-compose" "$DC2.tmp" && mv -f "$DC2.tmp" "$DC2"
  rm -rf "$A/x-compose" "$A"/docker-compose_*.deb
  "$DC2" version --short 2>/dev/null | grep -q '^2\.' || die "trixie's docker-compose is not 2.x: $("$DC2" version 2>&1 | head -n 3)"
  say "docker compose v2: installed $("$DC2" version --short) at $DC2"
fi

say "done (demo + test lab dependencies)"
