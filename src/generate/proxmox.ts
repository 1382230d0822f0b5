// Proxmox VE: "vzdump, then restic" (seed 004). vzdump calls its hook script at each phase; this one checks at
// `backup-end` that the archive vzdump just wrote lies under a path kamal-backup backs up (else the job fails: the
// dump would never reach the repository), and at `job-end` runs one kamal-backup backup of everything, so restic
// deduplicates the whole job's archives in one run. An aborted job runs nothing: no run is what `status` and the
// stale alert report. Secrets come from an env file read without shell evaluation.
import {UsageError} from '../errors.js'
import {shellQuote} from '../exec/quote.js'
import {header, type Deployment, type GeneratedFile} from './deployment.js'
import {environmentTemplate} from './systemd.js'

export const HOOK_FILE = 'kamal-backup-vzdump-hook'
export const HOOK_PATH = `/usr/local/bin/${HOOK_FILE}`

export function generateProxmox(d: Deployment): GeneratedFile[] {
  const dirs = d.directories.filter((x) => x.backedUp).map((x) => x.path)
  if (dirs.length === 0) {
    throw new UsageError(`${d.app}: kamal-backup.yml backs up no directory, so the archives vzdump writes would never reach the repository`, {
      suggestions: ['add the vzdump dump directory under paths: (e.g. - /var/lib/vz/dump, or the path of the storage vzdump writes to)'],
    })
  }
  const envFile = `/etc/kamal-backup/${d.slug}.env`
  const script = `#!/bin/sh
${header('#', d, 'proxmox')}
#
# Install (as root on the Proxmox host, with kamal-backup installed: npm install -g kamal-backup):
#   install -m 0755 ${HOOK_FILE} ${HOOK_PATH}
#   install -D -m 0644 <your kamal-backup.yml> ${d.hostConfig}
#   install -m 0600 ${d.slug}.env.example ${envFile}   # then fill in the values
#   add the line of vzdump.conf.snippet to /etc/vzdump.conf (or --script ${HOOK_PATH} on a job)
#
# vzdump calls: HOOK job-start|job-end|job-abort  and  HOOK backup-start|backup-end|backup-abort|log-end|pre-stop|
# pre-restart|post-restart MODE VMID, with DUMPDIR, STOREID, VMTYPE, HOSTNAME, TARGET (TARFILE before PVE 7), LOGFILE.
set -eu
KAMAL_BACKUP=\${KAMAL_BACKUP:-${d.bin}}
CONFIG=\${KAMAL_BACKUP_CONFIG:-${d.hostConfig}}
ENV_FILE=\${KAMAL_BACKUP_ENV_FILE:-${envFile}}
# The directories kamal-backup.yml backs up: every archive must land in one of them.
PATHS=${shellQuote(dirs.join(' '))}

say() { echo "kamal-backup hook: $*" >&2; }

phase=\${1:-}
case "$phase" in
  backup-end)
    archive=\${TARGET:-\${TARFILE:-}}
    if [ -z "$archive" ] || [ ! -f "$archive" ]; then
      say "vzdump finished guest \${3:-?} but its archive '$archive' is not a file"
      exit 1
    fi
    for dir in $PATHS; do
      case "$archive" in "$dir"/*) say "$archive is backed up when the job ends"; exit 0 ;; esac
    done
    say "$archive is not under a path kamal-backup backs up ($PATHS): add its directory to paths: in $CONFIG"
    exit 1
    ;;
  job-end)
    if [ -f "$ENV_FILE" ]; then
      # NAME=value lines, exported as they are (no shell evaluation of the values).
      while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '' | '#'*) continue ;; esac
        export "$line"
      done < "$ENV_FILE"
    fi
    say "vzdump job done: backing up with kamal-backup"
    exec "$KAMAL_BACKUP" backup --on-schedule --backup-config "$CONFIG"
    ;;
  job-abort | backup-abort)
    say "vzdump $phase\${3:+ (guest $3)}: no kamal-backup run for this job; kamal-backup status shows the last one"
    ;;
esac
exit 0
`
  return [
    {name: HOOK_FILE, content: script, mode: 0o755},
    {name: 'vzdump.conf.snippet', content: `# Add to /etc/vzdump.conf: every vzdump job then hands its archives to kamal-backup (${d.app}).\nscript: ${HOOK_PATH}\n`},
    {name: `${d.slug}.env.example`, content: environmentTemplate(d, `install -m 0600 ${d.slug}.env.example ${envFile}`)},
  ]
}
