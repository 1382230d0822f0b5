// The two restores: `restore production` (in the accessory, after a safety backup) and `restore local` (onto a
// workstation). Both restore one run, chosen by planRun(), with restoreRun(), and keep a record of it in the state
// directory — last_restore.json, rewritten as each step finishes (after a dropped SSH connection it shows how far
// the restore got), and restores.jsonl, one line per finished restore.
import {accessSync, constants, existsSync, readFileSync, statSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, resolve} from 'node:path'
import type {LocalConfig} from '../config/backup-config.js'
import type {PreflightCheck, RestorePlan, RestoreResult} from '../documents.js'
import {errorMessage, ExitCode, InterruptedError, isKamalBackupError, KamalBackupError} from '../errors.js'
import {shellJoin} from '../exec/quote.js'
import {describeDatabase} from '../db/connection.js'
import {runBackup} from './backup.js'
import type {Restic} from '../restic/client.js'
import {openRepository, type Engine} from './context.js'
import {drillNotChecked, drillOperator, type DrillChoice, type DrillOptions} from './drill.js'
import {loadRuns} from './list.js'
import {damageWarnings} from './damage.js'
import {assertRestoreVerified, describeChanges, emptyRestoreReport, planRun, preflightRestore, restoreRun, selectParts, type RestoreInput, type RestoreParts, type RestoreSelection} from './restore.js'
import {databaseGroup, describeRun, FILES_GROUP, type Run} from './runs.js'
import {judge, STATE_FILES} from './state.js'
import {assertNotProductionEnvironment, localTargets, productionTargets, type Targets} from './targets.js'

/** What is about to be restored, for the confirmation. */
export interface RestorePlanView {
  run: Pick<Run, 'id' | 'time' | 'preRestore' | 'preDeploy'>
  databases: {name: string; target: string}[]
  files: {from: string; to: string}[]
}

export interface RestoreOptions {
  /** Called once the run and the targets are known, before anything is checked or changed: the confirmation. */
  confirm?: (plan: RestorePlanView) => Promise<void>
  /** The run id the operator confirmed (a remote restore, after its dry run): any other run is refused. */
  expectRun?: string
}

/** What only the restore itself can find out (each needs a change, or the data itself). */
export const NOT_CHECKED_BY_A_DRY_RUN = [
  'the safety backup is not taken (its dump tools and the repository\'s free space are tried only then)',
  'the files are not downloaded and verified (staging)',
  'the databases are not reset: whether the app\'s locks let a reset through within the lock timeout is seen only then',
]

/** What a dry run plans: the command, its parts and targets, and how the restore would treat them. */
export interface PlanRequest {
  kind: RestorePlan['kind']
  scope: RestorePlan['scope']
  parts: RestoreParts
  /** The targets, or how to find them (a failure there is the plan's error, not a crash). */
  targets: Targets | (() => Targets | Promise<Targets>)
  /** Scratch directories (drills, created and marked) or directories whose contents are replaced. */
  filesMode: RestoreInput['filesMode']
  /** A drill reads each PostgreSQL dump's table of contents: its dry run checks that pg_restore can. */
  tableOfContents: boolean
  safetyBackup: boolean
  notChecked: readonly string[]
  expectRun?: string
  undo?: UndoContext
}

/** How the undo command must be run to work where this restore was started. */
export interface UndoContext {
  /** The restore ran with --local from a workstation (not in the accessory): the undo must too. */
  local?: boolean
  backupConfig?: string
  /** The restore read a copy (--from): its safety backup went there too. */
  from?: string
}

function baseResult(engine: Engine, scope: RestoreResult['scope'], selection: RestoreSelection): RestoreResult {
  const now = engine.now().toISOString()
  return {
    schema_version: 1,
    kind: 'restore',
    scope,
    status: 'running',
    app: engine.config.app,
    operator: drillOperator(engine.env),
    host: hostname(),
    requested: {snapshot: selection.snapshot ?? 'latest', at: selection.at?.toISOString() ?? null, databases: selection.databases ?? null, files: selection.files ?? null},
    targets: {databases: [], files: []},
    changes: [],
    safety_backup: null,
    skipped_paths: [],
    started_at: now,
    updated_at: now,
    finished_at: null,
    duration_ms: 0,
    error: null,
    suggestions: [],
    ...emptyRestoreReport(),
  }
}

function finish(engine: Engine, result: RestoreResult, error?: unknown): RestoreResult {
  const finished = engine.now()
  result.finished_at = result.updated_at = finished.toISOString()
  result.duration_ms = finished.getTime() - new Date(result.started_at).getTime()
  if (error) {
    result.status = 'failed'
    result.error = engine.redactor.redact(errorMessage(error))
    result.suggestions = isKamalBackupError(error) ? error.suggestions.map((s) => engine.redactor.redact(s)) : []
  } else result.status = 'ok'
  return result
}

interface Recorder {
  /** Writes last_restore.json as it stands (the first call starts the record). */
  update(): void
  /** Appends the finished record to restores.jsonl, if it was started. */
  final(): void
}

/** The record on disk: rewritten as the restore goes, appended to the history when it is over. A record that
 *  cannot be written must not stop a restore half-way: it is warned about once. */
function recorder(engine: Engine, result: RestoreResult): Recorder {
  let warned = false
  let started = false
  const write = (final: boolean) => {
    // No record before the restore was confirmed: a refused restore leaves the last one in place.
    if (final && !started) return
    if (!started) engine.events.emit({type: 'restore-started', record: engine.redactor.redactValue(result)})
    started = true
    try {
      if (!final) {
        const now = engine.now()
        result.updated_at = now.toISOString()
        result.duration_ms = now.getTime() - new Date(result.started_at).getTime()
      }
      const stored = engine.redactor.redactValue(result)
      engine.state.write(STATE_FILES.lastRestore, stored)
      if (final) engine.state.append(STATE_FILES.restores, stored)
    } catch (error) {
      if (!warned) engine.log.warn(`cannot write the restore record in ${engine.state.path}: ${errorMessage(error)}`)
      warned = true
    }
    if (final) engine.events.emit({type: 'restore-finished', record: engine.redactor.redactValue(result)})
  }
  return {update: () => write(false), final: () => write(true)}
}

/** The command that undoes a production restore: restoring the same parts from the safety backup. */
export function undoCommand(app: string, runId: string, where: {destination?: string | undefined; configFile?: string | undefined} & UndoContext, parts: RestoreParts, all: {databases: readonly string[]; pathsConfigured: boolean}): string {
  return restoreCommand(app, runId, where, parts, all, true)
}

/** `kamal-backup restore production <run> [--confirm app] ...`: the same parts of another run, run where this one
 *  ran. Without --confirm, whoever runs it is asked again (and shown the run first). */
function restoreCommand(app: string, runId: string, where: {destination?: string | undefined; configFile?: string | undefined} & UndoContext, parts: RestoreParts, all: {databases: readonly string[]; pathsConfigured: boolean}, confirmed: boolean): string {
  const limits: string[] = []
  const everyDatabase = all.databases.every((d) => parts.databases.includes(d))
  if (!(everyDatabase && parts.files === all.pathsConfigured)) {
    if (everyDatabase && !parts.files) limits.push('--no-files')
    else limits.push(...parts.databases.flatMap((d) => ['--database', d]), ...(parts.files ? ['--files'] : []))
  }
  return shellJoin([
    'kamal-backup',
    'restore',
    'production',
    runId,
    ...(confirmed ? ['--confirm', app] : []),
    ...(where.configFile ? ['-c', where.configFile] : []),
    ...(where.destination ? ['-d', where.destination] : []),
    ...(where.local ? ['--local', ...(where.backupConfig ? ['--backup-config', resolve(where.backupConfig)] : [])] : []),
    ...(where.from ? ['--from', where.from] : []),
    ...limits,
  ])
}

function planView(engine: Engine, run: Run, targets: Targets): RestorePlanView {
  return {
    run: {id: run.id, time: run.time, preRestore: run.preRestore, ...(run.preDeploy !== undefined && {preDeploy: run.preDeploy})},
    databases: targets.databases.map((d) => ({name: d.name, target: engine.redactor.redact(describeDatabase(d.target))})),
    files: targets.files.map((f) => ({from: f.from, to: f.to})),
  }
}

export function describePlan(plan: RestorePlanView): string {
  const parts = [...plan.databases.map((d) => `database ${d.name} → ${d.target}`), ...plan.files.map((f) => `files ${f.from} → ${f.to}`)]
  return `run ${describeRun(plan.run)}: ${parts.join(', ') || 'nothing'}`
}

/** After a failure: where the targets stand, how to go back, and where the record is. */
function explainFailure(engine: Engine, result: RestoreResult, error: unknown, undo: string | undefined, safetySkipped: boolean): unknown {
  const state = describeChanges(result.changes)
  if (!state) return error
  const failure = isKamalBackupError(error) ? error : new KamalBackupError(`unexpected error: ${errorMessage(error)}`, {code: 'internal/bug', cause: error})
  failure.suggestions.unshift(state)
  if (undo) failure.suggestions.push(`to go back to the state before this restore: ${undo}`)
  else if (safetySkipped) failure.suggestions.push('no safety backup was taken (--no-safety-backup): the data that was replaced cannot be brought back by kamal-backup')
  failure.suggestions.push(`this restore's record: ${engine.state.file(STATE_FILES.lastRestore)}`)
  return failure
}

/** --expect-run: the run the operator was shown and confirmed must still be the one the selection resolves to. A
 *  backup finishing between the confirmation and the restore makes `latest` another run: refused, nothing changed. */
function assertExpectedRun(engine: Engine, run: Run, selection: RestoreSelection, parts: RestoreParts, options: RestoreOptions & {undo?: UndoContext}): void {
  if (options.expectRun === undefined || run.id === options.expectRun) return
  const what = selection.at ? `the latest complete run at or before ${selection.at.toISOString()}` : (selection.snapshot ?? 'latest') === 'latest' ? 'the latest complete backup run' : `"${selection.snapshot}"`
  const where = {destination: engine.env.KAMAL_BACKUP_DESTINATION || undefined, configFile: engine.env.KAMAL_BACKUP_CONFIG_FILE || undefined, ...options.undo}
  const all = {databases: engine.config.databases.map((d) => d.name), pathsConfigured: engine.config.paths.length > 0}
  throw new KamalBackupError(`${what} changed since it was confirmed: it is now run ${describeRun(run)}, not run ${options.expectRun}; a backup finished (or runs were pruned) in between. Nothing was changed`, {
    code: 'run/changed',
    exitCode: ExitCode.usage,
    suggestions: [
      `to restore the run you confirmed: ${restoreCommand(engine.config.app, options.expectRun, where, parts, all, false)}`,
      `to restore the new run ${run.id}: run the restore again; it shows the run before asking`,
    ],
  })
}

/** The run a restore restores and how it is shown: the repository opened, its runs listed, the selection applied. */
async function chooseRun(engine: Engine, selection: RestoreSelection, parts: RestoreParts, targets: Targets): Promise<{restic: Restic; chosen: ReturnType<typeof planRun>; view: RestorePlanView}> {
  const restic = await openRepository(engine)
  const {runs} = await loadRuns(engine, restic)
  const chosen = planRun(runs, selection, parts)
  return {restic, chosen, view: planView(engine, chosen.run, targets)}
}

function restoreInput(chosen: ReturnType<typeof planRun>, targets: Targets): RestoreInput {
  return {run: chosen.run, databases: targets.databases, files: targets.files, filesSnapshot: chosen.files, filesMode: 'replace', preserve: targets.preserve}
}

/** What both restores do once their targets are known: choose the run, show it and ask, then restore it. */
async function confirmAndRestore(
  engine: Engine,
  result: RestoreResult,
  record: Recorder,
  choice: {selection: RestoreSelection; parts: RestoreParts; targets: Targets},
  options: RestoreOptions & {expect?: (run: Run) => void; beforeChanges?: () => Promise<void>},
): Promise<void> {
  const {restic, chosen, view} = await chooseRun(engine, choice.selection, choice.parts, choice.targets)
  result.run_id = chosen.run.id
  result.run_time = chosen.run.time
  result.targets = {databases: view.databases, files: view.files}
  options.expect?.(chosen.run)
  for (const warning of damageWarnings(engine)) engine.log.warn(warning)
  await options.confirm?.(view)
  engine.log.info(`restoring ${describePlan(view)}`)
  record.update()
  await restoreRun(engine, restic, restoreInput(chosen, choice.targets), result, result.changes, {onUpdate: record.update, ...(options.beforeChanges && {beforeChanges: options.beforeChanges})})
  // A restore that lost tables is not a restore: failed (exit 1), with where production stands and the undo.
  assertRestoreVerified(result.databases)
}

/** `restore production --dry-run`: the checks the restore would run first, without changing anything. */
export function planProduction(engine: Engine, selection: RestoreSelection, options: {safetyBackup: boolean; expectRun?: string; undo?: UndoContext}): Promise<{plan: RestorePlan; error?: unknown}> {
  // Bad arguments are thrown as they are (exit 2), before anything is read.
  const parts = selectParts(selection, engine.config.databases.map((d) => d.name), engine.config.paths.length > 0)
  return planRestore(engine, selection, {
    kind: 'restore-plan',
    scope: 'production',
    parts,
    targets: () => productionTargets(engine, parts),
    filesMode: 'replace',
    tableOfContents: false,
    notChecked: options.safetyBackup ? NOT_CHECKED_BY_A_DRY_RUN : NOT_CHECKED_BY_A_DRY_RUN.slice(1),
    ...options,
  })
}

/** `restore local --dry-run`: the same refusals as the restore (thrown as they are), then its checks. */
export function planLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, selection: RestoreSelection): Promise<{plan: RestorePlan; error?: unknown}> {
  assertNotProductionEnvironment(engine.env)
  const parts = selectParts(selection, engine.config.databases.map((d) => d.name), engine.config.paths.length > 0)
  const targets = localTargets(engine, local, cwd, parts, {filesRequested: selection.files === true})
  for (const path of targets.unmappedPaths) engine.log.warn(`files from ${path} would not be restored: no local target for it in config/kamal-backup.local.yml`)
  return planRestore(engine, selection, {kind: 'restore-plan', scope: 'local', parts, targets, filesMode: 'replace', tableOfContents: false, safetyBackup: false, notChecked: NOT_CHECKED_BY_A_DRY_RUN.slice(1)})
}

/** `drill production|local --dry-run`: the run, the targets the drill chose (its refusals already thrown), and the
 *  checks a drill runs first — including each PostgreSQL dump's table of contents, which a drill reads. */
export function planDrill(engine: Engine, choice: DrillChoice, options: DrillOptions): Promise<{plan: RestorePlan; error?: unknown}> {
  return planRestore(engine, options.selection, {kind: 'drill-plan', scope: choice.scope, parts: choice.parts, targets: choice.targets, filesMode: choice.filesMode, tableOfContents: true, safetyBackup: false, notChecked: drillNotChecked(choice, options)})
}

/** A dry run: the run resolved exactly as the command would resolve it, and the checks it runs before it changes
 *  anything. No lock is taken and no record written (a dry run must not overwrite last_restore.json, which after a
 *  dropped connection says how the last real restore ended, nor the last drill's record). */
export async function planRestore(engine: Engine, selection: RestoreSelection, request: PlanRequest): Promise<{plan: RestorePlan; error?: unknown}> {
  const started = engine.now()
  const base = baseResult(engine, request.scope, selection)
  const plan: RestorePlan = {
    schema_version: 1,
    kind: request.kind,
    scope: request.scope,
    status: 'failed',
    dry_run: true,
    app: engine.config.app,
    host: base.host,
    requested: base.requested,
    run: null,
    targets: {databases: [], files: []},
    safety_backup: request.safetyBackup,
    checks: [],
    not_checked: [...request.notChecked],
    warnings: damageWarnings(engine),
    planned_at: started.toISOString(),
    duration_ms: 0,
    error: null,
    suggestions: [],
  }
  const done = (error?: unknown) => {
    plan.duration_ms = engine.now().getTime() - started.getTime()
    if (error) {
      plan.status = 'failed'
      plan.error = engine.redactor.redact(errorMessage(error))
      plan.suggestions = isKamalBackupError(error) ? error.suggestions.map((x) => engine.redactor.redact(x)) : []
    } else plan.status = 'ok'
    return error ? {plan, error} : {plan}
  }
  const {parts} = request
  try {
    const targets = typeof request.targets === 'function' ? await request.targets() : request.targets
    const {restic, chosen, view} = await chooseRun(engine, selection, parts, targets)
    const now = engine.now().getTime()
    plan.run = {
      id: chosen.run.id,
      time: chosen.run.time,
      age_seconds: Math.max(0, Math.round((now - new Date(chosen.run.time).getTime()) / 1000)),
      pre_restore: chosen.run.preRestore,
      ...(chosen.run.preDeploy !== undefined && {pre_deploy: chosen.run.preDeploy}),
      snapshots: chosen.run.snapshots.filter((x) => (x.group === FILES_GROUP ? parts.files : parts.databases.some((d) => databaseGroup(d) === x.group))).map((x) => ({group: x.group, id: x.id})),
    }
    plan.targets = {databases: view.databases, files: view.files}
    assertExpectedRun(engine, chosen.run, selection, parts, request)
    await dryCheck(engine, plan.checks, `the state directory ${engine.state.path} can take the ${request.kind === 'drill-plan' ? 'drill' : 'restore'} record`, () => stateWritable(engine))
    await dryCheck(engine, plan.checks, 'no other kamal-backup command holds the run lock', () => lockFree(engine))
    const input = {...restoreInput(chosen, targets), filesMode: request.filesMode, ...(request.tableOfContents && {tableOfContents: true})}
    await preflightRestore(engine, restic, input, {dryRun: true, checks: plan.checks})
    return done()
  } catch (error) {
    return done(error)
  }
}

async function dryCheck(engine: Engine, checks: PreflightCheck[], name: string, work: () => void): Promise<void> {
  try {
    work()
    checks.push({name, status: 'ok'})
  } catch (error) {
    checks.push({name, status: 'failed', error: engine.redactor.redact(errorMessage(error))})
    throw error
  }
}

/** A restore writes its record before it changes anything: the state directory must take it. A missing one
 *  is made by the restore; here only its parent is checked. */
function stateWritable(engine: Engine): void {
  if (existsSync(engine.state.path)) return engine.state.ensureWritable()
  let parent = dirname(engine.state.path)
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent)
  try {
    accessSync(parent, constants.W_OK)
  } catch (error) {
    throw new KamalBackupError(`the state directory ${engine.state.path} does not exist and cannot be created in ${parent} (${(error as NodeJS.ErrnoException).code})`, {
      code: 'state/not-writable',
      suggestions: ['mount a writable volume at the state directory (state.path, KAMAL_BACKUP_STATE_DIR; default /var/lib/kamal-backup)'],
    })
  }
}

/** The run lock, read and not taken: a backup, prune or restore running now would make the restore refuse. */
function lockFree(engine: Engine): void {
  const path = engine.state.file(STATE_FILES.lock)
  let holder: {pid?: number; hostname?: string; command?: string; started_at?: string}
  let mtime: number
  try {
    mtime = statSync(path).mtimeMs
    holder = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return // no lock, or one a restore would take over as stale
  }
  if (judge(holder, mtime, Date.now()) === 'stale') return
  throw new KamalBackupError(`another kamal-backup ${holder.command ?? 'command'} is running (pid ${holder.pid ?? '?'}${holder.hostname && holder.hostname !== hostname() ? ` on host ${holder.hostname}` : ''}, since ${holder.started_at ?? '?'}): a restore now would be refused`, {
    code: 'command/busy',
    suggestions: ['wait for it to finish (kamal-backup evidence shows the last runs), then check again'],
  })
}

export async function restoreProduction(engine: Engine, selection: RestoreSelection, options: RestoreOptions & {safetyBackup: boolean; undo?: UndoContext}): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'production', selection)
  const record = recorder(engine, result)
  let undo: string | undefined
  let lock: {release(): void} | undefined
  try {
    engine.state.ensureWritable()
    lock = engine.state.lock('restore')
    const names = engine.config.databases.map((d) => d.name)
    const parts = selectParts(selection, names, engine.config.paths.length > 0)
    const targets = await productionTargets(engine, parts)
    await confirmAndRestore(engine, result, record, {selection, parts, targets}, {
      ...options,
      expect: (run) => assertExpectedRun(engine, run, selection, parts, options),
      // The safety backup comes after every check and the staging of the files, right before the first change:
      // a refused restore takes none, and the backup is as close as it can be to the data it protects.
      beforeChanges: async () => {
        if (!options.safetyBackup) {
          engine.log.warn('--no-safety-backup: restoring without a safety backup; the current production data cannot be brought back by kamal-backup')
          result.steps.push({name: 'safety-backup', status: 'skipped', duration_ms: null})
          return
        }
        engine.log.info('taking a safety backup of production before restoring (--no-safety-backup skips it)')
        const entry = {name: 'safety-backup', status: 'running' as 'running' | 'ok' | 'failed', started_at: engine.now().toISOString(), duration_ms: null as number | null, error: undefined as string | undefined}
        result.steps.push(entry)
        record.update()
        const started = Date.now()
        const safety = await runBackup(engine, {force: true, trigger: 'pre-restore', extraTags: ['type:pre-restore'], lockHeld: true})
        entry.duration_ms = Date.now() - started
        entry.status = safety.status === 'ok' ? 'ok' : 'failed'
        if (safety.error) entry.error = safety.error
        else delete entry.error
        if (safety.status === 'ok') {
          undo = undoCommand(
            engine.config.app,
            safety.run_id!,
            {destination: engine.env.KAMAL_BACKUP_DESTINATION || undefined, configFile: engine.env.KAMAL_BACKUP_CONFIG_FILE || undefined, ...options.undo},
            parts,
            {databases: names, pathsConfigured: engine.config.paths.length > 0},
          )
        }
        result.safety_backup = {run_id: safety.run_id, status: safety.status, undo_command: undo ?? null}
        record.update()
        if (safety.status !== 'ok') {
          const message = `the safety backup failed at ${safety.failed_step}: ${safety.error}; nothing was restored`
          if (safety.reason === 'interrupted') throw new InterruptedError(message)
          throw new KamalBackupError(message, {code: 'backup/safety-failed', suggestions: ['fix the cause and restore again; only if production is already lost, pass --no-safety-backup']})
        }
        engine.log.info(`safety backup: run ${safety.run_id}. To undo this restore: ${undo}`)
      },
    })
    return {result: finish(engine, result)}
  } catch (error) {
    const explained = explainFailure(engine, result, error, undo, !options.safetyBackup)
    return {result: finish(engine, result, explained), error: explained}
  } finally {
    lock?.release()
    record.final()
  }
}

export async function restoreLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, selection: RestoreSelection, options: RestoreOptions = {}): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'local', selection)
  const record = recorder(engine, result)
  let lock: {release(): void} | undefined
  try {
    assertNotProductionEnvironment(engine.env)
    const names = engine.config.databases.map((d) => d.name)
    const parts = selectParts(selection, names, engine.config.paths.length > 0)
    // Targets only for what is restored: `--database primary` needs no local target for the others.
    const targets = localTargets(engine, local, cwd, parts, {filesRequested: selection.files === true})
    result.skipped_paths = targets.unmappedPaths
    for (const path of targets.unmappedPaths) engine.log.warn(`files from ${path} are not restored: no local target for it in config/kamal-backup.local.yml (paths: [{from: ${path}, to: storage}])`)
    engine.state.ensureWritable()
    lock = engine.state.lock('restore')
    await confirmAndRestore(engine, result, record, {selection, parts, targets}, options)
    return {result: finish(engine, result)}
  } catch (error) {
    const explained = explainFailure(engine, result, error, undefined, false)
    return {result: finish(engine, result, explained), error: explained}
  } finally {
    lock?.release()
    record.final()
  }
}

export type {RestorePlan} from '../documents.js'
