#!/usr/bin/env bash
# scripts/demo.sh — the README's quick start: set up, then a full backup → list → drill → evidence loop on the
# bundled sample app (examples/sample-app: SQLite databases + Active Storage files) into a local restic repository.
#
#   bash scripts/demo.sh          (or: npm run demo)
#
# Everything happens in a fresh directory under /tmp (printed at the start and the end); nothing outside it is
# changed except what scripts/setup.sh installs (apt: restic, sqlite3; npm dependencies; the build).
#
# It plays both roles of the product:
#   1. the developer in the app checkout: `kamal-backup validate` reads config/deploy.yml, .kamal/secrets and
#      config/kamal-backup.yml and checks them, like a CI job before a deploy;
#   2. the backup accessory on the server: the same config with its paths moved under the demo directory (there is
#      no /rails/storage here) and a local repository instead of S3, run with --local.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -t 1 ]; then B=$'\e[1m'; D=$'\e[2m'; R=$'\e[0m'; else B=''; D=''; R=''; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$R"; }
show() { printf '%s$ %s%s\n' "$D" "$*" "$R"; }

step "Setting up (apt: restic, sqlite3; npm dependencies; build)"
bash "$ROOT/scripts/setup.sh"

KB="node $ROOT/bin/run.js"
DEMO=$(mktemp -d /tmp/kamal-backup-demo.XXXXXX)
APP=$DEMO/app          # the developer's checkout
SERVER=$DEMO/server    # what the accessory container sees
cp -a "$ROOT/examples/sample-app" "$APP"
mkdir -p "$SERVER/storage/blobs/ab/cd" "$SERVER/state"
echo "demo directory: $DEMO"

step "1. In the app checkout: validate the deploy and backup configuration"
show "cd $APP && kamal-backup validate"
(cd "$APP" && $KB validate)

step "2. Production data on the 'server': two SQLite databases and Active Storage files"
sqlite3 "$SERVER/storage/production.sqlite3" <<'SQL'
PRAGMA journal_mode=wal;
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) INSERT INTO users(email) SELECT 'user' || i || '@example.com' FROM n;
CREATE TABLE active_storage_blobs (id INTEGER PRIMARY KEY, key TEXT, filename TEXT, byte_size INTEGER);
INSERT INTO active_storage_blobs(key, filename, byte_size) VALUES ('abcd1234', 'avatar.png', 4096);
SQL
sqlite3 "$SERVER/storage/production_queue.sqlite3" "CREATE TABLE solid_queue_jobs (id INTEGER PRIMARY KEY, class_name TEXT); INSERT INTO solid_queue_jobs(class_name) VALUES ('WelcomeMailer'), ('CleanupJob');"
head -c 4096 /dev/urandom > "$SERVER/storage/blobs/ab/cd/abcd1234"
echo "users: $(sqlite3 "$SERVER/storage/production.sqlite3" 'SELECT count(*) FROM users'), files: $(find "$SERVER/storage/blobs" -type f | wc -l)"

# The accessory's copy of config/kamal-backup.yml, with /rails/storage moved under the demo directory and the
# state directory there too. The repository and its password come from the environment, as Kamal's env.secret
# would provide them inside the container.
sed -e "s#/rails/storage#$SERVER/storage#g" "$APP/config/kamal-backup.yml" > "$SERVER/kamal-backup.yml"
printf 'state:\n  path: %s\n' "$SERVER/state" >> "$SERVER/kamal-backup.yml"
export RESTIC_REPOSITORY="$DEMO/restic-repo"
RESTIC_PASSWORD=$(head -c 24 /dev/urandom | base64)
export RESTIC_PASSWORD
ACCESSORY="--local --backup-config $SERVER/kamal-backup.yml"

step "3. In the accessory: back up (initialises the repository on first use)"
show "kamal-backup backup --force"
(cd "$SERVER" && $KB backup --force $ACCESSORY)

step "4. Changes happen, and a second run is taken"
sqlite3 "$SERVER/storage/production.sqlite3" "INSERT INTO users(email) VALUES ('late-signup@example.com');"
(cd "$SERVER" && $KB backup --force $ACCESSORY)

step "5. List the runs (one snapshot per database + one for the files, tied by a run id; retention keep_daily: 7
    keeps the newest run of each day, so the first run of today has been forgotten already)"
show "kamal-backup list"
(cd "$SERVER" && $KB list $ACCESSORY)

step "6. A restore drill into scratch targets, verified, with a check of our own"
show "kamal-backup drill production --sqlite-path $DEMO/drill/db --files $DEMO/drill/files --check '...' --yes"
mkdir -p "$DEMO/drill/db" "$DEMO/drill/files"
(cd "$SERVER" && $KB drill production --yes $ACCESSORY \
  --sqlite-path "$DEMO/drill/db" --files "$DEMO/drill/files" \
  --check 'n=$(sqlite3 "${KAMAL_BACKUP_DRILL_PRIMARY_URL#sqlite3:}" "SELECT count(*) FROM users"); echo "users restored: $n"; test "$n" -eq 251' )

step "7. Evidence for a security review (JSON, redacted, with a digest)"
show "kamal-backup evidence --json > $DEMO/evidence.json"
(cd "$SERVER" && $KB evidence --json $ACCESSORY > "$DEMO/evidence.json")
node -e '
const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
const run = e.latest_complete_run
console.log(`app ${e.app}: latest complete run ${run.id} (${run.snapshots.length} snapshots), backup age ${e.latest_backup_age.status}`)
console.log(`last drill: ${e.last_restore_drill.status} in ${e.last_restore_drill.duration_ms} ms; drills recorded: ${e.restore_drills.count}`)
if (JSON.stringify(e).includes(process.env.RESTIC_PASSWORD)) { console.error("the restic password leaked into the evidence"); process.exit(1) }
' "$DEMO/evidence.json"

step "Done"
echo "Everything is under $DEMO (remove it with: rm -rf $DEMO)"
echo "Next: read README.md for running it against your own app (kamal-backup init in your Rails checkout)."
