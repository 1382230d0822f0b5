// `kamal-backup generate <runtime>`: the deployment artifacts for the app in kamal-backup.yml, made by pure
// functions of the validated config (src/generate/<runtime>.ts), then printed, written into a directory (each file
// replaced in one step, nothing half-written), or compared with the files already there (--check, for CI).
import {chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {replaceFile} from '../files.js'
import {loadBackupConfig} from '../config/backup-config.js'
import {backupConfigPath, inspectCheckout} from '../config/validate.js'
import {throwOnErrors} from '../parse/findings.js'
import {unifiedDiff} from '../parse/diff.js'
import {generateCompose} from './compose.js'
import {deployment, type Deployment, type GeneratedFile, type RuntimeTarget} from './deployment.js'
import {generateKubernetes} from './kubernetes.js'
import {generateProxmox} from './proxmox.js'
import {generateQuadlet} from './quadlet.js'
import {renderRunbook, type EvidenceHistory} from './runbook.js'
import {UsageError} from '../errors.js'
import {generateSystemd} from './systemd.js'

const GENERATORS: Record<RuntimeTarget, (d: Deployment, options: {oneshot?: boolean}) => GeneratedFile[]> = {
  systemd: generateSystemd,
  quadlet: generateQuadlet,
  compose: generateCompose,
  kubernetes: generateKubernetes,
  proxmox: generateProxmox,
}

export interface GenerateResult {
  runtime: RuntimeTarget
  app: string
  files: {name: string; content: string}[]
  /** --out: where the files were written or compared. */
  out: string | null
  written: string[]
  /** --check: files whose content differs from what would be generated, and files that are not there. */
  stale: {name: string; diff: string}[]
  missing: string[]
}

export interface GenerateOptions {
  runtime: RuntimeTarget
  cwd: string
  env: Readonly<Record<string, string | undefined>>
  backupConfigFile?: string
  hostConfig?: string
  image?: string
  bin?: string
  /** quadlet: a one-run container and a timer instead of the image's scheduler. */
  oneshot?: boolean
  out?: string
  check?: boolean
  version: string
}

/** The runtime's files for the config (every config error is one located error first). */
export function generateFiles(options: Pick<GenerateOptions, 'runtime' | 'cwd' | 'env' | 'backupConfigFile' | 'hostConfig' | 'image' | 'bin' | 'oneshot' | 'version'>): {app: string; files: GeneratedFile[]} {
  const file = backupConfigPath({cwd: options.cwd, env: options.env, ...(options.backupConfigFile !== undefined && {backupConfigFile: resolve(options.cwd, options.backupConfigFile)})})
  const loaded = loadBackupConfig(file, options.cwd)
  throwOnErrors(loaded.findings)
  const config = loaded.config!
  const d = deployment(config, {configText: readFileSync(file, 'utf8'), version: options.version, ...(options.hostConfig !== undefined && {hostConfig: options.hostConfig}), ...(options.image !== undefined && {image: options.image}), ...(options.bin !== undefined && {bin: options.bin})})
  return {app: config.app, files: GENERATORS[options.runtime](d, {oneshot: options.oneshot === true})}
}

export function generate(options: GenerateOptions): GenerateResult {
  const {app, files} = generateFiles(options)
  const out = options.out === undefined ? null : resolve(options.cwd, options.out)
  const result: GenerateResult = {runtime: options.runtime, app, files: files.map((f) => ({name: f.name, content: f.content})), out, written: [], stale: [], missing: []}
  if (out === null) return result
  if (options.check) {
    for (const f of files) {
      const path = join(out, f.name)
      if (!existsSync(path)) result.missing.push(f.name)
      else {
        const current = readFileSync(path, 'utf8')
        if (current !== f.content) result.stale.push({name: f.name, diff: unifiedDiff(current, f.content, {from: `a/${f.name}`, to: `b/${f.name}`})})
      }
    }
    return result
  }
  mkdirSync(out, {recursive: true})
  // Every file is staged first, then each renamed into place: a failure leaves no half-written file.
  const staged: {temporary: string; path: string; name: string}[] = []
  try {
    for (const f of files) {
      const path = join(out, f.name)
      const temporary = `${path}.tmp-${process.pid}`
      writeFileSync(temporary, f.content, {mode: f.mode ?? 0o644})
      if (f.mode !== undefined) chmodSync(temporary, f.mode)
      staged.push({temporary, path, name: f.name})
    }
    for (const s of staged) {
      renameSync(s.temporary, s.path)
      result.written.push(s.name)
    }
  } finally {
    for (const s of staged) rmSync(s.temporary, {force: true})
  }
  return result
}

export interface RunbookResult {
  app: string
  file: string
  content: string
  written: boolean
  /** --check: the diff when the file differs, null when it matches; `missing` when it is not there. */
  stale: string | null
  missing: boolean
  /** Errors `kamal-backup validate` reports for this checkout (the runbook is written anyway). */
  problems: number
}

/** RUNBOOK.md (or `out`) for the checkout's app and destination: written in one step, or compared (--check). */
export function runbook(options: {cwd: string; env: Readonly<Record<string, string | undefined>>; destination?: string; configFile?: string; backupConfigFile?: string; evidence?: string; out?: string; check?: boolean}): RunbookResult {
  const state = inspectCheckout({
    cwd: options.cwd,
    env: options.env,
    skipSecrets: true,
    host: false,
    ...(options.destination !== undefined && {destination: options.destination}),
    ...(options.configFile !== undefined && {configFile: options.configFile}),
    ...(options.backupConfigFile !== undefined && {backupConfigFile: options.backupConfigFile}),
  })
  // Files that cannot be read stop it; what validate finds between them (an unmounted path, a secret without a
  // value) does not: the runbook is still right, and the problems are counted for the command to say.
  throwOnErrors(state.findings.filter((f) => !/^(kamal|secrets|host)\//.test(f.rule)))
  const problems = state.findings.filter((f) => f.severity === 'error').length
  const evidence = options.evidence === undefined ? undefined : {file: options.evidence, doc: readEvidence(resolve(options.cwd, options.evidence), options.evidence, state.config!.app)}
  const content = renderRunbook({
    ...(evidence && {evidence}),
    config: state.config!,
    ...(state.model && {model: state.model}),
    ...(options.destination !== undefined && {destination: options.destination}),
    ...(options.configFile !== undefined && {configFile: options.configFile}),
    ...(options.backupConfigFile !== undefined && {backupConfigFile: options.backupConfigFile}),
  })
  const shown = options.out ?? 'RUNBOOK.md'
  const path = resolve(options.cwd, shown)
  const result: RunbookResult = {app: state.config!.app, file: shown, content, written: false, stale: null, missing: false, problems}
  if (options.check) {
    if (!existsSync(path)) result.missing = true
    else {
      const current = readFileSync(path, 'utf8')
      if (current !== content) result.stale = unifiedDiff(current, content, {from: `a/${shown}`, to: `b/${shown}`})
    }
    return result
  }
  replaceFile(path, content)
  result.written = true
  return result
}

/** An `evidence --json` document of this app, or one clear error. */
function readEvidence(path: string, shown: string, app: string): EvidenceHistory {
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new UsageError(`--evidence ${shown}: cannot read it as JSON (${(error as Error).message})`, {suggestions: ['write it with kamal-backup evidence --json > evidence.json (-d as for the runbook)']})
  }
  const d = doc as Partial<EvidenceHistory> & {kind?: unknown}
  if (d.kind !== 'evidence' || !d.restore_drills?.recent || !d.restores?.recent) throw new UsageError(`--evidence ${shown}: not an evidence document`, {suggestions: ['write it with kamal-backup evidence --json > evidence.json']})
  if (d.app !== app) throw new UsageError(`--evidence ${shown}: it is the evidence of app ${String(d.app)}, this runbook is for ${app}`)
  return d as EvidenceHistory
}
