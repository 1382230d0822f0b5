// What went wrong reaching the accessory, in words that say what to fix. Pure functions over what ssh2, the
// network and `docker exec` report, so they are unit-tested without a server.
import {ExitCode, KamalBackupError, type ErrorCode} from '../errors.js'
import {shellQuote} from '../exec/quote.js'

export interface Target {
  /** user@host:port as connected to, for messages. */
  user: string
  host: string
  port: number
  /** The proxy in use, for messages: `jump host root@bastion:22` or `proxy command ...`. */
  via?: string
}

export function describeTarget(target: Pick<Target, 'user' | 'host' | 'port'>): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  return `${target.user}@${host}:${target.port}`
}

function unreachable(message: string, code: ErrorCode, suggestions: string[] = [], cause?: unknown): KamalBackupError {
  return new KamalBackupError(message, {code, exitCode: ExitCode.unreachable, suggestions, ...(cause !== undefined && {cause})})
}

export interface AuthAttempt {
  /** `agent (SSH_AUTH_SOCK=/path)`, `key ~/.ssh/id_ed25519`, `ssh.key_data #1`. */
  tried: string[]
  /** Key files that could not be used, with why (`~/.ssh/id_rsa: encrypted, add it to ssh-agent`). */
  skipped: string[]
  /** keys_only / IdentitiesOnly: the agent signs only for the listed keys. */
  keysOnly?: boolean
  /** Whether an agent socket is configured at all (SSH_AUTH_SOCK / IdentityAgent). */
  agent?: boolean
}

/** Maps an ssh2 client error (or a socket error) to a KamalBackupError. `stage` says which connection: the target,
 *  or the jump host of ssh.proxy. */
export function connectionError(error: unknown, target: Target, context: {auth?: AuthAttempt; stage?: 'target' | 'jump'; timeoutMs?: number} = {}): KamalBackupError {
  const err = error as NodeJS.ErrnoException & {level?: string}
  const where = describeTarget(target)
  const what = context.stage === 'jump' ? `the jump host ${where} (ssh.proxy)` : where
  const via = target.via && context.stage !== 'jump' ? ` via ${target.via}` : ''
  const code = err?.code
  const message = err?.message ?? String(error)
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || err?.level === 'client-dns' || /getaddrinfo/.test(message)) {
    return unreachable(`cannot resolve the host name ${target.host} (DNS${code ? `: ${code}` : ''})`, 'ssh/dns', [
      `check the host in config/deploy.yml (or its HostName in ~/.ssh/config), and that this machine's DNS can resolve it`,
    ], error)
  }
  if (code === 'ECONNREFUSED') {
    return unreachable(`connection to ${what}${via} refused: nothing listens on port ${target.port}`, 'ssh/refused', [
      `check ssh.port in config/deploy.yml (now ${target.port}) and that sshd runs on ${target.host}`,
    ], error)
  }
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || err?.level === 'client-timeout') {
    const seconds = context.timeoutMs !== undefined ? ` after ${Math.round(context.timeoutMs / 1000)} s` : ''
    return unreachable(`connection to ${what}${via} timed out${seconds}${code && code !== 'ETIMEDOUT' ? ` (${code})` : ''}`, 'ssh/timeout', [
      `check that ${target.host} is up and that a firewall lets this machine reach port ${target.port}`,
      'a slow link may need a longer ConnectTimeout in ~/.ssh/config',
    ], error)
  }
  if (err?.level === 'client-authentication' || /authentication methods failed/i.test(message)) {
    const tried = context.auth?.tried ?? []
    const skipped = context.auth?.skipped ?? []
    return unreachable(
      `SSH authentication as ${target.user} on ${what} failed; tried: ${tried.length > 0 ? tried.join(', ') : 'nothing (no keys and no agent)'}`,
      'ssh/auth',
      [
        ...skipped.map((s) => `not used: ${s}`),
        `check ssh.user (now ${target.user}) and ssh.keys in config/deploy.yml, ${agentAdvice(context.auth)}`,
        `the public key must be in ~${target.user}/.ssh/authorized_keys on ${target.host}`,
      ],
      error,
    )
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /Connection lost before handshake|socket hang up/i.test(message)) {
    return unreachable(`${what}${via} closed the connection during the SSH handshake (${code ?? message})`, 'ssh/handshake', [
      'check that the port speaks SSH, and the server logs (MaxStartups, AllowUsers, fail2ban)',
    ], error)
  }
  return unreachable(`SSH connection to ${what}${via} failed: ${message}`, 'ssh/failed', [], error)
}

function agentAdvice(auth: AuthAttempt | undefined): string {
  if (auth?.agent === false) return 'or start an ssh-agent (eval "$(ssh-agent)") and load the key into it (ssh-add)'
  if (auth?.keysOnly) return 'or load the key into ssh-agent (ssh-add): with keys_only the agent is used only for the keys listed in ssh.keys (matched by their .pub)'
  return 'or load the key into ssh-agent (ssh-add)'
}

export function hostKeyChangedError(info: {names: string[]; keyType: string; offered: string; known: string[]; file: string; line: number; revoked?: boolean; displayFile?: string}): KamalBackupError {
  const shown = info.displayFile ?? info.file
  const name = info.names[0] ?? '?'
  if (info.revoked) {
    return unreachable(`the host key of ${name} (${info.keyType} ${info.offered}) is marked @revoked in ${shown}:${info.line}; refusing to connect`, 'ssh/host-key-revoked', [
      'ask whoever runs the server which key it should present',
    ])
  }
  return unreachable(
    `the host key of ${name} has CHANGED: it offered ${info.keyType} ${info.offered}, but ${shown}:${info.line} records ${info.known.join(', ')}. Someone could be intercepting the connection, or the server was reinstalled; refusing to connect`,
    'ssh/host-key-changed',
    [
      `verify the new fingerprint with whoever runs the server (on the server: ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileType(info.keyType)}_key.pub)`,
      `if it is legitimate: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(info.file)}, then run this again`,
    ],
  )
}

export function hostKeyUnknownError(info: {names: string[]; keyType: string; offered: string; reason: 'strict' | 'no-file'}): KamalBackupError {
  const name = info.names[0] ?? '?'
  const host = name.replace(/^\[(.*)\]:(\d+)$/, '$1')
  const port = /^\[.*\]:(\d+)$/.exec(name)?.[1]
  return unreachable(`${name} is not in known_hosts (it offered ${info.keyType} ${info.offered}), and ${info.reason === 'strict' ? 'strict host key checking (--strict-host-key or StrictHostKeyChecking yes) refuses unknown hosts' : 'there is no known_hosts file to record it in'}`, 'ssh/host-key-unknown', [
    `verify the fingerprint with whoever runs the server, then add it: ssh-keyscan ${port ? `-p ${port} ` : ''}${host} >> ~/.ssh/known_hosts`,
  ])
}

export function proxyError(message: string, suggestions: string[] = [], cause?: unknown): KamalBackupError {
  return unreachable(message, 'ssh/proxy', suggestions, cause)
}

/** What `docker exec` said when kamal-backup never started in the container (no handshake). Undefined when the
 *  output is not recognised. */
export function dockerExecError(exitCode: number | null, stderr: string, context: {container: string; accessory: string; host: string; destination?: string}): KamalBackupError | undefined {
  const d = context.destination ? ` -d ${context.destination}` : ''
  const detail = stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).join(' / ')
  if (/No such container/i.test(stderr)) {
    return unreachable(`the backup accessory container ${context.container} does not exist on ${context.host}`, 'accessory/missing', [
      `boot it: kamal accessory boot ${context.accessory}${d}`,
    ])
  }
  // Docker's words, then Podman's (podman-docker hosts): `can only create exec sessions on running containers`.
  if (/is not running|is paused|is restarting|container state improper|exec sessions on running containers/i.test(stderr)) {
    return unreachable(`the backup accessory container ${context.container} on ${context.host} is not running (${detail})`, 'accessory/not-running', [
      `see why it stopped: kamal accessory logs ${context.accessory}${d}`,
      `start it again: kamal accessory boot ${context.accessory}${d} (or kamal accessory reboot ${context.accessory}${d})`,
    ])
  }
  if (/executable file not found|no such file or directory/i.test(stderr) && /kamal-backup/.test(stderr)) {
    return unreachable(`kamal-backup is not installed in the container ${context.container} on ${context.host}: the accessory runs the wrong image`, 'accessory/wrong-image', [
      `set the accessory's image to ghcr.io/kamal-backup/kamal-backup (or an image built FROM it) in config/deploy.yml`,
      `then: kamal accessory reboot ${context.accessory}${d}`,
    ])
  }
  if (/docker: (command )?not found|docker: No such file/i.test(stderr) || (exitCode === 127 && /docker/.test(stderr))) {
    return unreachable(`docker is not installed (or not on the PATH) for the SSH user on ${context.host}`, 'accessory/docker-missing', [
      'is this the right host? Kamal installs Docker on the servers it deploys to (kamal server bootstrap)',
    ])
  }
  if (/permission denied.*docker(\.sock| daemon)/i.test(stderr)) {
    return unreachable(`the SSH user may not use Docker on ${context.host}: ${detail}`, 'accessory/docker-permission', [
      'add the SSH user to the docker group on the server, or set ssh.user to one that may use Docker',
    ])
  }
  if (/Cannot connect to the Docker daemon/i.test(stderr)) {
    return unreachable(`Docker is not running on ${context.host}: ${detail}`, 'accessory/docker-down', ['start Docker on the server (systemctl start docker)'])
  }
  return undefined
}

export function versionMismatchError(info: {local: string; remote: string; accessory: string; image?: string; destination?: string}): KamalBackupError {
  const d = info.destination ? ` -d ${info.destination}` : ''
  const [lmaj, lmin] = info.local.split('.')
  const want = `${lmaj}.${lmin}`
  return new KamalBackupError(
    `this kamal-backup is ${info.local} but the accessory runs ${info.remote}: they must share major.minor (${want}); nothing was run`,
    {
      code: 'accessory/version-mismatch',
      exitCode: ExitCode.versionMismatch,
      suggestions: [
        `make the accessory run kamal-backup ${want}${info.image ? ` (config/deploy.yml has image: ${info.image})` : ''}, then: kamal accessory reboot ${info.accessory}${d}`,
        `or use kamal-backup ${info.remote.split('.').slice(0, 2).join('.')} here (npm install -g kamal-backup@${info.remote.split('.').slice(0, 2).join('.')})`,
      ],
    },
  )
}

export interface ConnectionLostInfo {
  command: string[]
  target: Target
  afterGo: boolean
  accessory: string
  destination?: string
  reason?: string
  /** The accessory was told to finish the command when the connection drops (restore/drill production). */
  continues?: boolean
  /** The accessory's state directory (state.path, KAMAL_BACKUP_STATE_DIR, or the default). */
  stateDir?: string
  /** The safety backup the accessory announced before restoring, when its line arrived. */
  safetyBackup?: {runId: string; undo?: string}
  /** --no-safety-backup was given. */
  noSafetyBackup?: boolean
  /** Bytes of --json output dropped, so that stdout holds only the error document. */
  discardedStdout?: number
}

export function connectionLostError(info: ConnectionLostInfo): KamalBackupError {
  const d = info.destination ? ` -d ${info.destination}` : ''
  const cmd = info.command.join(' ')
  const state = info.stateDir ?? '/var/lib/kamal-backup'
  const base = `the SSH connection to ${describeTarget(info.target)} was lost while \`kamal-backup ${cmd}\` was running${info.reason ? ` (${info.reason})` : ''}`
  const suggestions: string[] = []
  const exec = (what: string) => `kamal accessory exec ${info.accessory} --reuse${d} ${shellQuote(what)}`
  if (!info.afterGo) {
    suggestions.push('it was lost before the command started: nothing was run; try again')
  } else if (cmd === 'restore production' && info.continues) {
    suggestions.push(
      'the restore goes on in the accessory: a lost connection does not stop it (only Ctrl-C does). It may still be running, or have finished; files are restored first, then each database in turn',
      `see how it ended: kamal-backup evidence${d}, or its record in the accessory's state directory: ${exec(`cat ${state}/last_restore.json`)} (every restore is also a line of ${state}/restores.jsonl)`,
      'do not start it again before that record shows it ended',
    )
    if (info.safetyBackup) {
      suggestions.push(`the safety backup taken before it is run ${info.safetyBackup.runId}${info.safetyBackup.undo ? `; to undo the restore: ${info.safetyBackup.undo}` : ''}`)
    } else if (info.noSafetyBackup) {
      suggestions.push('no safety backup was taken (--no-safety-backup)')
    } else {
      suggestions.push(`if the restore got as far as its safety backup (the newest run tagged type:pre-restore in kamal-backup list${d}), the record above names it and the command that undoes the restore`)
    }
  } else if (cmd === 'restore production') {
    // An accessory that does not know KAMAL_BACKUP_REMOTE_ON_HANGUP (an older patch release) stops instead.
    suggestions.push(
      'the restore may be half done: files are restored first, then each database in turn; the output above shows the steps that finished',
      `see how it ended: kamal-backup evidence${d}, or ${exec(`cat ${state}/last_restore.json`)}`,
    )
  } else if (cmd === 'drill production' && info.continues) {
    suggestions.push(
      'the drill goes on in the accessory: a lost connection does not stop it (only Ctrl-C does); it records its result when it ends',
      `see the result: kamal-backup evidence${d}, or ${exec(`cat ${state}/last_restore_drill.json`)}`,
    )
  } else if (cmd === 'backup' || cmd === 'drill production' || cmd === 'prune' || cmd === 'copy') {
    suggestions.push(
      'the accessory stops the command when it sees the connection close (restic removes its lock); a partial run is recorded as failed',
      `check with: kamal-backup list${d} and kamal-backup evidence${d}; run kamal-backup unlock${d} if restic reports a stale lock`,
    )
  } else {
    suggestions.push('nothing is left half done by this command; run it again')
  }
  if (info.discardedStdout) suggestions.push(`the ${info.discardedStdout} bytes of output that had arrived were dropped, so stdout holds only this error`)
  return unreachable(base, 'ssh/connection-lost', suggestions)
}

function hostKeyFileType(keyType: string): string {
  if (keyType.startsWith('ecdsa-')) return 'ecdsa'
  return keyType.replace(/^ssh-/, '')
}
