# test/lab/tools.sh — source me (bash): the real checkers for generated deployment files.
# `bash scripts/setup.sh --test` (or --lab-only) installs them; nothing here installs or starts anything.
#
#   KB_QUADLET   podman 5.4's quadlet generator (Debian trixie, unpacked). Check .container/.volume/.network files:
#                  QUADLET_UNIT_DIRS=DIR "$KB_QUADLET" -dryrun
#                prints "---NAME.service---" + each generated unit on stdout; exit 1 when any file fails (unknown key,
#                no Image=, unparsable line), the reason on stderr: 'quadlet-generator[PID]: converting "x.container":
#                unsupported key 'Foo' in group 'Container' in DIR/x.container'. Add -user for user units.
#   KB_COMPOSE   Docker Compose v2.26 (Debian trixie, unpacked). Merges -f files and validates them against the
#                Compose Specification; needs no daemon, starts nothing:
#                  "$KB_COMPOSE" -p NAME -f a.yaml -f b.yaml config [-q | --format json]
#                exit 0 ok; 15 invalid (schema, undefined volume/secret, YAML error); 14 missing file / env_file.
#   kb_systemd_verify UNIT...   systemd-analyze verify --man=no: exit 1 only on fatal problems (missing ExecStart
#                binary, unparsable OnCalendar=, timer without its service). Unknown keys / bad values are only
#                warnings on stderr with exit 0, so this also fails (exit 1) when stderr is not empty.
#   kb_tools_missing            prints the tools that are not installed (empty when all are), exit 1 if any.
KB_LAB=${KB_LAB:-/tmp/kb-lab}
export KB_QUADLET="$KB_LAB/quadlet/usr/libexec/podman/quadlet"
export KB_COMPOSE="$KB_LAB/bin/docker-compose-2"

kb_systemd_verify() {
  local err rc=0
  err=$(systemd-analyze verify --man=no "$@" 2>&1 >/dev/null) || rc=$?
  [ -z "$err" ] || printf '%s\n' "$err" >&2
  [ "$rc" = 0 ] && [ -z "$err" ]
}

kb_tools_missing() {
  local m=()
  [ -x "$KB_QUADLET" ] || m+=("$KB_QUADLET")
  [ -x "$KB_COMPOSE" ] || m+=("$KB_COMPOSE")
  command -v systemd-analyze >/dev/null 2>&1 || m+=(systemd-analyze)
  [ ${#m[@]} = 0 ] || { echo "missing: ${m[*]} (run: bash scripts/setup.sh --lab-only)"; return 1; }
}
