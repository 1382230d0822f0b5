# syntax=docker/dockerfile:1
#
# The kamal-backup accessory image: Node 24 (LTS), restic, PostgreSQL clients for every supported server major, the
# MariaDB client, sqlite3, rclone, an SSH client, tini as PID 1, and the packed kamal-backup CLI. Its default
# command is `kamal-backup schedule`, the foreground scheduler.
#
# Build (from the repository root; amd64 is the architecture whose restic checksum is pinned below):
#   docker build -t ghcr.io/kamal-backup/kamal-backup:0.1.0 .
#   docker run --rm ghcr.io/kamal-backup/kamal-backup:0.1.0 kamal-backup version --json
# Publish (tag major.minor too: `kamal-backup version` accepts an accessory with the same major.minor):
#   docker push ghcr.io/kamal-backup/kamal-backup:0.1.0
#   docker tag ghcr.io/kamal-backup/kamal-backup:0.1.0 ghcr.io/kamal-backup/kamal-backup:0.1
#   docker push ghcr.io/kamal-backup/kamal-backup:0.1
# Another architecture: pass the SHA-256 of that architecture's restic .deb from Debian's signed Packages index,
#   docker build --platform linux/arm64 --build-arg RESTIC_DEB_SHA256=<sha256> -t ... .
# Updating restic: change RESTIC_DEB_VERSION and RESTIC_DEB_SHA256 together (the SHA256 field of restic in
# dists/trixie/main/binary-amd64/Packages); test/unit/image/dockerfile.test.ts checks they stay pinned.
#
# At run time the accessory mounts config/kamal-backup.yml at /app/config/kamal-backup.yml and a volume at
# /var/lib/kamal-backup (run records, check and drill results, restic's cache). Secrets arrive as environment
# variables (Kamal `env.secret`), never as files in the image.

# Node 24 is an LTS line (security fixes until April 2028); Node 20 reached end of life in April 2026. Debian 13
# (trixie) slim, Debian's current stable. Pin by digest too when publishing (node:24.11.1-trixie-slim@sha256:...):
# the digest is not recorded here because it cannot be checked without a registry.
# Both bases are build arguments, so the same file builds where no registry is reachable, on bases made locally
# from Debian packages and the npm registry's Node 24 (test/lab/image.sh: README "Building the image without a
# registry").
ARG NODE_IMAGE=node:24.11.1-trixie-slim
ARG DEBIAN_IMAGE=debian:trixie-slim

# ---- the CLI, packed as npm would publish it -------------------------------------------------------------------
FROM ${NODE_IMAGE} AS cli
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp && mv /tmp/kamal-backup-*.tgz /tmp/kamal-backup.tgz

# ---- restic, pinned and verified ---------------------------------------------------------------------------------
# Debian trixie's restic package, fetched by exact version and checked against the SHA-256 that Debian's signed
# Packages index lists for it; only the static binary is kept.
FROM ${DEBIAN_IMAGE} AS restic
ARG RESTIC_DEB_VERSION=0.18.0-1+b4
ARG RESTIC_DEB_SHA256=4888fb20b272a28b84ac39171b7d7f0d9a58c2aeae51ec28e54684648d66e12c
ARG DEBIAN_MIRROR=https://deb.debian.org/debian
ARG TARGETARCH=amd64
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && curl -fsSL -o /tmp/restic.deb "${DEBIAN_MIRROR}/pool/main/r/restic/restic_${RESTIC_DEB_VERSION}_${TARGETARCH}.deb" \
 && echo "${RESTIC_DEB_SHA256}  /tmp/restic.deb" | sha256sum -c - \
 && dpkg-deb -x /tmp/restic.deb /tmp/restic \
 && install -m 0755 /tmp/restic/usr/bin/restic /usr/local/bin/restic \
 && /usr/local/bin/restic version | grep -q "^restic 0\.18\."

# ---- the accessory ------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# 18 servers need the 18 client ("newer than every client"). 13 is end of life (November 2025) and PGDG moves
# end-of-life majors out of its repository: a 13 server is dumped by the 14 client (pg_dump reads older servers).
ARG POSTGRES_CLIENT_MAJORS="14 15 16 17 18"
# Where they come from: pgdg (the published image) or debian (trixie's own archive has 17 only: a build where
# PGDG is out of reach passes POSTGRES_CLIENTS_FROM=debian POSTGRES_CLIENT_MAJORS=17, and says so).
ARG POSTGRES_CLIENTS_FROM=pgdg
# PostgreSQL clients from the PGDG repository, set up by Debian's own postgresql-common script (its signing keyring
# ships in that package, so apt verifies every client package); one client per supported server major under /usr/lib/postgresql/<major>/bin, where
# kamal-backup picks the oldest client that is not older than the server (pg_dump refuses newer servers).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
 && if [ "${POSTGRES_CLIENTS_FROM}" = pgdg ]; then /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; fi \
 && apt-get install -y --no-install-recommends \
      $(for m in ${POSTGRES_CLIENT_MAJORS}; do echo "postgresql-client-$m"; done) \
      mariadb-client sqlite3 rclone openssh-client tini \
 && rm -rf /var/lib/apt/lists/* \
 && for m in ${POSTGRES_CLIENT_MAJORS}; do /usr/lib/postgresql/$m/bin/pg_dump --version; done
COPY --from=restic /usr/local/bin/restic /usr/local/bin/restic
COPY --from=cli /tmp/kamal-backup.tgz /tmp/kamal-backup.tgz
RUN npm install -g --omit=dev --no-audit --no-fund /tmp/kamal-backup.tgz \
 && rm /tmp/kamal-backup.tgz \
 && npm cache clean --force \
 && kamal-backup version --json --local
ENV KAMAL_BACKUP_IN_ACCESSORY=1 \
    KAMAL_BACKUP_STATE_DIR=/var/lib/kamal-backup \
    KAMAL_BACKUP_POSTGRES_CLIENT_ROOT=/usr/lib/postgresql \
    KAMAL_BACKUP_RESTIC=/usr/local/bin/restic \
    NODE_ENV=production
RUN mkdir -p /var/lib/kamal-backup /app/config
VOLUME /var/lib/kamal-backup
WORKDIR /app
# tini reaps children and forwards SIGTERM, so `kamal accessory stop` lets restic remove its lock.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["kamal-backup", "schedule"]
