// `kamal-backup hooks install`: Kamal's pre-deploy hook (`.kamal/hooks/pre-deploy`, or under deploy.yml's
// `hooks_path`) gets a marked block that takes a restore point before every deploy. An existing hook is kept: the
// block is appended to it, and a later install replaces only what is between the markers (the same block: nothing
// is written). Kamal runs the hook from the app checkout with KAMAL_DESTINATION, KAMAL_VERSION, KAMAL_PERFORMER,
// KAMAL_HOSTS, ... set, and stops the deploy when it exits non-zero.
import {chmodSync, existsSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, relative, resolve} from 'node:path'
import {replaceFile} from '../files.js'
import {UsageError} from '../errors.js'

export const HOOK_BEGIN = '# >>> kamal-backup: a restore point before every deploy >>>'
export const HOOK_END = '# <<< kamal-backup <<<'
export const DEFAULT_HOOKS_PATH = '.kamal/hooks'

/** The block, POSIX sh. Kept small on purpose: everything it does is `kamal-backup validate` and `kamal-backup
 *  backup --force --reason deploy` for the destination being deployed. The version becomes a tag: characters a
 *  tag cannot hold become "_". KAMAL_BACKUP_HOOK_ARGS: more arguments for the backup, split into words (the tests
 *  pass `--local --backup-config FILE` to back up here, into a local repository). */
export const HOOK_BLOCK = `${HOOK_BEGIN}
# Written by \`kamal-backup hooks install\`, which replaces only the lines between these markers.
# Before every deploy: kamal-backup validate, then a backup tagged type:pre-deploy and deploy-version:<KAMAL_VERSION>
# (kamal-backup list shows it as "before deploy <version>"). If either fails, the deploy stops;
# KAMAL_BACKUP_HOOK_OPTIONAL=1 deploys anyway. KAMAL_BACKUP_HOOK_ARGS: more arguments for the backup command.
kamal_backup_pre_deploy() {
  if [ -n "\${KAMAL_DESTINATION:-}" ]; then set -- -d "$KAMAL_DESTINATION"; else set --; fi
  if ! command -v kamal-backup >/dev/null 2>&1; then
    echo "kamal-backup: not found on PATH (npm install -g kamal-backup)" >&2
    return 1
  fi
  kamal_backup_version=$(printf '%s' "\${KAMAL_VERSION:-}" | tr -c 'A-Za-z0-9._+-' '_' | sed 's/^[.+-]/_/' | cut -c 1-100)
  echo "kamal-backup: a restore point before deploying \${KAMAL_VERSION:-}\${KAMAL_DESTINATION:+ to $KAMAL_DESTINATION}"
  kamal-backup validate "$@" || return 1
  # KAMAL_BACKUP_HOOK_ARGS is split into words on purpose.
  kamal-backup backup --force --reason deploy \${kamal_backup_version:+--deploy-version "$kamal_backup_version"} "$@" \${KAMAL_BACKUP_HOOK_ARGS:-}
}
if ! kamal_backup_pre_deploy; then
  if [ "\${KAMAL_BACKUP_HOOK_OPTIONAL:-}" = 1 ]; then
    echo "kamal-backup: the restore point before this deploy FAILED; deploying anyway (KAMAL_BACKUP_HOOK_OPTIONAL=1)" >&2
  else
    echo "kamal-backup: the restore point before this deploy failed: the deploy stops (KAMAL_BACKUP_HOOK_OPTIONAL=1 deploys without it)" >&2
    exit 1
  fi
fi
${HOOK_END}
`

export interface HooksInstallOptions {
  cwd: string
  /** Kamal's deploy config (default config/deploy.yml): its `hooks_path`, when set, is where the hook goes. */
  configFile?: string
}

export interface HooksInstallResult {
  /** The hook, relative to the checkout. */
  file: string
  /** created: there was no hook; appended: to an existing hook; updated: an older block replaced; unchanged. */
  status: 'created' | 'appended' | 'updated' | 'unchanged'
  /** It was not executable: now it is (Kamal runs only an executable hook). */
  made_executable: boolean
  notes: string[]
}

/** `hooks_path:` of deploy.yml, read as a plain top-level line (the hook directory is never built with ERB in
 *  practice); Kamal's default otherwise. */
export function hooksPath(cwd: string, configFile = 'config/deploy.yml'): string {
  let text = ''
  try {
    text = readFileSync(resolve(cwd, configFile), 'utf8')
  } catch {
    return DEFAULT_HOOKS_PATH
  }
  const match = /^hooks_path:[ \t]*(["']?)([^"'#\n]+?)\1[ \t]*(?:#.*)?$/m.exec(text)
  return match?.[2]?.trim() || DEFAULT_HOOKS_PATH
}

/** The hook's text with the block in: appended, or in place of an earlier block. */
export function withBlock(existing: string | undefined): {text: string; status: HooksInstallResult['status']} {
  if (existing === undefined) return {text: `#!/bin/sh\n# Kamal runs this hook before every deploy; a non-zero exit stops the deploy.\n\n${HOOK_BLOCK}`, status: 'created'}
  const begin = existing.indexOf(HOOK_BEGIN)
  const end = existing.indexOf(HOOK_END, begin)
  if (begin >= 0 && end > begin) {
    const after = end + HOOK_END.length + (existing[end + HOOK_END.length] === '\n' ? 1 : 0)
    const text = existing.slice(0, begin) + HOOK_BLOCK + existing.slice(after)
    return {text, status: text === existing ? 'unchanged' : 'updated'}
  }
  const separator = existing === '' ? '' : existing.endsWith('\n') ? '\n' : '\n\n'
  return {text: `${existing}${separator}${HOOK_BLOCK}`, status: 'appended'}
}

/** What in an existing hook keeps the appended block from running, or from running as sh. */
function hookProblems(existing: string, file: string): {refuse?: string; notes: string[]} {
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(existing)
  const interpreter = shebang ? (shebang[1]!.endsWith('/env') ? (shebang[2] ?? '') : shebang[1]!) : ''
  if (shebang && !/(^|\/)(sh|bash|dash|zsh|ksh|ash)$/.test(interpreter)) {
    return {refuse: `${file} is a ${interpreter} script (${shebang[0]}): shell lines appended to it would break it`, notes: []}
  }
  const before = existing.split(HOOK_BEGIN)[0]!
  const notes: string[] = []
  if (/^[ \t]*(exit|exec)\b/m.test(before)) notes.push(`${file} has an \`exit\` or \`exec\` line before the kamal-backup block: when it runs, the block does not; move the block above it`)
  return {notes}
}

export function installHooks(options: HooksInstallOptions): HooksInstallResult {
  const dir = resolve(options.cwd, hooksPath(options.cwd, options.configFile))
  const target = resolve(dir, 'pre-deploy')
  const file = relative(options.cwd, target) || target
  const existing = existsSync(target) ? readFileSync(target, 'utf8') : undefined
  const problems = existing === undefined ? {notes: []} : hookProblems(existing, file)
  if (problems.refuse) {
    throw new UsageError(problems.refuse, {suggestions: ['call a shell script holding the block below from it, or add these lines to it yourself:', HOOK_BLOCK.trimEnd()]})
  }
  const {text, status} = withBlock(existing)
  const mode = existing === undefined ? 0o755 : statSync(target).mode & 0o7777
  const executable = (mode & 0o111) === 0o111
  if (status !== 'unchanged') {
    mkdirSync(dirname(target), {recursive: true})
    // Replaced whole: a deploy starting now runs the old hook or the new one, never half of one.
    replaceFile(target, text, {mode: mode | 0o111})
  } else if (!executable) chmodSync(target, mode | 0o111)
  return {file, status, made_executable: existing !== undefined && !executable, notes: problems.notes}
}
