#!/usr/bin/env bash
# scripts/test-all.sh [runner args...] — the one command that sets up and runs the whole test suite.
#
#   1. bash scripts/setup.sh --test     apt packages, node_modules, restic 0.18, s3rver (fast when all present)
#   2. npm run build                    when package.json has a build script
#   3. bash test/lab/up.sh              real servers on 127.0.0.1 (postgres, mariadb, sshd x2, rest x2, s3, tmpfs)
#      bash test/lab/image.sh           the accessory image from the Dockerfile, with podman (cached by its inputs)
#   4. node test/run.mjs [args...]      the FULL suite (unit + integration) unless args narrow it down
#   5. bash test/lab/down.sh            always, from an EXIT trap (also on failure or Ctrl-C)
#
# Exits with the test runner's status (or the status of the step that failed before it).
# Used by .ci/run on a fresh machine; `npm run test:all` runs it too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

T0=${EPOCHREALTIME/./}
secs() { local us=$(( ${EPOCHREALTIME/./} - $1 )); printf '%d.%01d' $((us / 1000000)) $(((us % 1000000) / 100000)); }
say() { printf '[test-all %ss] %s\n' "$(secs "$T0")" "$*" >&2; }
PHASES=()
phase() { # name cmd... — run a step, remember its duration for the summary
  local name=$1 t; shift
  t=${EPOCHREALTIME/./}
  say "$name: $*"
  "$@"
  PHASES+=("$name $(secs "$t")s")
}

LAB_STARTED=0
SUMMARY=$(mktemp)
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$LAB_STARTED" = 1 ]; then
    local t=${EPOCHREALTIME/./}
    bash test/lab/down.sh || say "WARNING: test/lab/down.sh failed"
    PHASES+=("down $(secs "$t")s")
  fi
  say "timings: ${PHASES[*]:-none}; total $(secs "$T0")s"
  say "exit $rc"
  # The last line of the output is the test summary, "N passed, N failed" (or 0 passed, 1 failed when a step
  # before the tests failed).
  if [ -s "$SUMMARY" ]; then cat "$SUMMARY"; else echo "0 passed, 1 failed"; fi
  rm -f "$SUMMARY"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Build once, below, instead of inside setup.sh too.
phase setup env KB_SETUP_SKIP_BUILD=1 bash scripts/setup.sh --test
if [ -n "$(node -p 'require("./package.json").scripts?.build ?? ""')" ]; then
  phase build npm run --silent build
else
  say "build: package.json has no build script, skipped"
fi
LAB_STARTED=1    # from here on, whatever up.sh managed to start is stopped by the EXIT trap
phase lab-up bash test/lab/up.sh
# The accessory image (podman, cached by its inputs). A failed build does not stop the suite: the image tests
# report it, and everything else still runs.
phase image bash test/lab/image.sh || say "WARNING: the image build failed (see above): the image tests will fail"

t=${EPOCHREALTIME/./}
say "tests: node test/run.mjs $*"
set +e
node test/run.mjs "$@" | tee "$SUMMARY.log"
rc=${PIPESTATUS[0]}
set -e
grep -E '^[0-9]+ passed, [0-9]+ failed$' "$SUMMARY.log" | tail -n 1 > "$SUMMARY"
rm -f "$SUMMARY.log"
PHASES+=("tests $(secs "$t")s")
exit "$rc"
