// One backup run: each database streamed into its own snapshot, then one snapshot of the files, then retention
// and check, all tagged with the same run id. A run is `ok` only if every step succeeded and every new snapshot
// is visible in the repository afterwards; a failed dump never leaves a snapshot behind.
import {readdirSync, rmSync} from 'node:fs'
import {describeSchedule, nextRun} from '../config/schedule.js'
import {errorMessage, InterruptedError, isKamalBackupError, KamalBackupError, UsageError} from '../errors.js'
import type {SnapshotTags} from '../restic/argv.js'
import {resolveDatabase, type ResolvedDatabase} from '../db/connection.js'
import {databaseAdapter} from '../db/index.js'
import {describeLock, LeftoverSnapshotError, type BackupSummary, type Restic} from '../restic/client.js'
import {openRepository, repositoryDisplay, type Engine} from './context.js'
import {bytes, type TaskHandle} from './progress.js'
import {checkPaths, shrinkWarnings} from './sources.js'
import {damageSince} from './damage.js'
import {appTags, databaseGroup, DEPLOY_VERSION_PATTERN, DEPLOY_VERSION_TAG, expectedGroups, FILES_GROUP, newRunId, PRE_DEPLOY_TAG, preDeployHost, runIdTime, snapshotHost} from './runs.js'
import {isRestorePoint, type BackupRunRecord, type MaintenanceRecord, type StepRecord} from '../documents.js'
import {addPartialSnapshots, adoptDeadRun, forgetPartialSnapshots, RunNotebook, sweepAbandonedPacks, type Leftover} from './leftovers.js'
import {STATE_FILES} from './state.js'
import {resolveVolumes, volumeTag} from './volumes.js'
import {copyRuns} from './copies.js'
import {forgetOldRestorePoints, regularKeepTags} from './maintenance.js'
import {loadRuns} from './list.js'

export const RECORD_VERSION = 1

export interface BackupOptions {
  force?: boolean
  trigger?: BackupRunRecord['trigger']
  /** Extra tags (`type:pre-restore`). */
  extraTags?: string[]
  /** The caller (a restore) already holds the run lock. */
  lockHeld?: boolean
  /** trigger pre-deploy: the version being deployed (tag deploy-version:<version>). */
  deployVersion?: string
}

/** The tags that say what kind of run this is, beyond appTags and run:<id>. */
function kindTags(options: BackupOptions): string[] {
  if (options.trigger !== 'pre-deploy') return []
  return [PRE_DEPLOY_TAG, ...(options.deployVersion ? [`${DEPLOY_VERSION_TAG}:${options.deployVersion}`] : [])]
}

/** A deploy's version must survive as a restic tag: refused (exit 2) before anything runs otherwise. */
export function checkDeployVersion(version: string): void {
  if (!DEPLOY_VERSION_PATTERN.test(version)) {
    throw new UsageError(`the deploy version ${JSON.stringify(version.slice(0, 120))} cannot be a snapshot tag: use letters, digits, ".", "_", "+" and "-" (at most 100, not starting with ".", "+" or "-")`, {
      suggestions: ['the pre-deploy hook of `kamal-backup hooks install` passes KAMAL_VERSION with other characters replaced by "_"'],
    })
  }
}

/** When the next run is due, from the last successful run. */
export function nextDue(engine: Pick<Engine, 'config' | 'state'>): {lastSuccessAt: Date | null; dueAt: Date | null; previousRunId: string | undefined} {
  const last = engine.state.read<BackupRunRecord>(STATE_FILES.lastSuccessfulBackup)
  const lastSuccessAt = last?.finished_at ? new Date(last.finished_at) : null
  const previousRunId = last?.run_id ?? undefined
  if (!lastSuccessAt || Number.isNaN(lastSuccessAt.getTime())) return {lastSuccessAt: null, dueAt: null, previousRunId}
  return {lastSuccessAt, dueAt: nextRun(engine.config.schedule, lastSuccessAt), previousRunId}
}

export async function runBackup(engine: Engine, options: BackupOptions = {}): Promise<BackupRunRecord> {
  const {config, state} = engine
  if (options.deployVersion !== undefined) checkDeployVersion(options.deployVersion)
  const startedAt = engine.now()
  const base = (): BackupRunRecord => ({
    schema_version: RECORD_VERSION,
    kind: 'backup_run',
    app: config.app,
    run_id: null,
    status: 'skipped',
    reason: null,
    trigger: options.trigger ?? 'manual',
    ...(options.trigger === 'pre-deploy' && {deploy_version: options.deployVersion ?? null}),
    started_at: startedAt.toISOString(),
    finished_at: startedAt.toISOString(),
    duration_ms: 0,
    restic_version: null,
    repository: repositoryDisplay(engine),
    steps: [],
    failed_step: null,
    error: null,
    snapshots: [],
    last_success_at: null,
    next_due_at: null,
    warnings: [],
    file_counts: [],
  })

  state.ensureWritable()
  const due = nextDue(engine)
  const skipped = (record: BackupRunRecord): BackupRunRecord => {
    engine.events.emit({type: 'backup-finished', record})
    return record
  }
  if (!options.force) {
    if (!config.enabled) return skipped({...base(), reason: 'disabled', last_success_at: due.lastSuccessAt?.toISOString() ?? null})
    if (due.dueAt && due.dueAt > startedAt) {
      return skipped({...base(), reason: 'not_due', last_success_at: due.lastSuccessAt!.toISOString(), next_due_at: due.dueAt.toISOString()})
    }
  }

  let lock: ReturnType<typeof state.lock> | undefined
  try {
    lock = options.lockHeld ? undefined : state.lock('backup')
  } catch (error) {
    // Another run holds the lock: the attempt is kept in the history (not as the last run: that one is running).
    if (isKamalBackupError(error) && error.code === 'command/busy') {
      const busy = engine.redactor.redactValue({...base(), reason: 'busy', error: errorMessage(error)})
      state.append(STATE_FILES.runs, busy)
      engine.events.emit({type: 'backup-finished', record: busy, error})
    }
    throw error
  }
  const record: BackupRunRecord = {...base(), status: 'failed' as BackupRunRecord['status']}
  const leftovers: Leftover[] = []
  let failure: {error: unknown} | undefined
  let notebook: RunNotebook | undefined
  let repository: Restic | undefined
  const recoveries: string[] = []
  try {
    // A run that died (its notebook is still there, and we hold the lock): told now, in the history and to
    // whoever listens; its snapshots wait to be forgotten.
    const dead = adoptDeadRun(engine, record.repository)
    if (dead) {
      engine.log.warn(`backup run ${dead.run_id} never finished: ${dead.error}`)
      state.append(STATE_FILES.runs, dead)
      state.write(STATE_FILES.lastBackup, dead)
      engine.events.emit({type: 'backup-finished', record: dead})
      recoveries.push(`run ${dead.run_id} had died without finishing (${dead.failed_step}): recorded as failed (killed); what it saved is forgotten before retention unless it is a complete run`)
    }
    record.run_id = await uniqueRunId(engine, startedAt)
    notebook = new RunNotebook(engine, {run_id: record.run_id, trigger: record.trigger, started_at: record.started_at, groups: expectedGroups(config)})
    engine.events.emit({type: 'backup-started', app: config.app, run_id: record.run_id, trigger: record.trigger, started_at: record.started_at})
    cleanTemporaryCopies(engine)
    // The run id's second is the time of every snapshot of the run.
    await execute(engine, record, options, runIdTime(record.run_id) ?? startedAt, leftovers, notebook, (restic) => (repository = restic))
    // 3-2-1: a saved run goes to every copy. A copy that fails is the run's warning, never its failure.
    if (repository && record.status === 'ok' && !isRestorePoint(record) && config.restic.copies.length > 0) {
      record.copies = await copyRuns(engine, repository, {id: record.run_id, snapshots: record.snapshots}, {previousRunId: due.previousRunId})
      for (const copy of record.copies) if (copy.status === 'failed') record.warnings!.push(`the copy to ${copy.name} failed: ${copy.error}`)
    }
    if (repository) recoveries.push(...(await sweepPacks(engine, repository)))
  } catch (error) {
    // Failures outside a step (restic missing, a secret not set): still recorded, and shown once with what to do
    // (by whoever listens to backup-finished).
    record.error ??= engine.redactor.redact(errorMessage(error))
    if (record.failed_step === null) {
      record.failed_step = 'preflight'
      failure = {error}
    }
    if (error instanceof InterruptedError) {
      record.reason = 'interrupted'
      await repository?.releaseAfterInterrupt()
    }
  } finally {
    lock?.release()
  }
  record.run_id ??= newRunId(startedAt)
  // Every snapshot a step saved, also when a later step was interrupted.
  record.snapshots = stepSnapshots(record.steps)
  record.recoveries = [...recoveries, ...(repository?.removedLocks ?? []).map((lock) => `removed ${describeLock(lock)} (its process is gone)`)]
  const finished = engine.now()
  const ok = (record.status as BackupRunRecord['status']) === 'ok'
  record.finished_at = finished.toISOString()
  record.duration_ms = finished.getTime() - startedAt.getTime()
  if (ok) {
    record.last_success_at = record.finished_at
    record.next_due_at = nextRun(config.schedule, finished).toISOString()
  } else {
    record.last_success_at = due.lastSuccessAt?.toISOString() ?? null
  }
  // An incomplete run's snapshots stay (the newest copy of what did work) until a complete run supersedes them;
  // then they are forgotten before retention, so they never take the place of complete runs in keep_* counts. (A
  // run that failed later, at forget or check, has every group: it is a whole backup and is kept.)
  if (!ok && record.run_id && record.snapshots.length < expectedGroups(config).length) addPartialSnapshots(engine, record, [], expectedGroups(config))
  // A failed dump's snapshot that could not be removed: remembered, so it never counts (see loadRuns) and the
  // next successful run's forget removes it.
  if (leftovers.length > 0) addPartialSnapshots(engine, {run_id: record.run_id, snapshots: []}, leftovers)
  const stored = engine.redactor.redactValue(record)
  state.write(STATE_FILES.lastBackup, stored)
  state.append(STATE_FILES.runs, stored)
  // A safety backup before a restore, or a restore point before a deploy, is not a scheduled backup: it must not
  // postpone the next one, nor say the schedule is fresh.
  if (ok && !isRestorePoint(record)) state.write(STATE_FILES.lastSuccessfulBackup, stored)
  notebook?.close()
  engine.events.emit({type: 'backup-finished', record, ...failure})
  return record
}

/** Run ids have one-second resolution: a run right after another (a retry, a forced run) waits for the next
 *  second rather than share the other run's id, which would merge the two runs. */
async function uniqueRunId(engine: Engine, startedAt: Date): Promise<string> {
  const last = engine.state.read<BackupRunRecord>(STATE_FILES.lastBackup)?.run_id
  let id = newRunId(startedAt)
  for (let i = 0; i < 3 && id === last; i++) {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5))
    id = newRunId(new Date(startedAt.getTime() + (i + 1) * 1000))
  }
  return id
}

/** Temporary copies (SQLite's) left in state/tmp by a run that was killed (SIGKILL, a full disk), named after
 *  their run: we hold the run lock, so nothing else is using them. */
function cleanTemporaryCopies(engine: Pick<Engine, 'state'>): void {
  const dir = engine.state.file('tmp')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  // SQLite copies, and the password files of dumps (src/db/credentials.ts) a killed run left.
  for (const name of names) if (/^\d{8}T\d{6}Z-|^credentials-/.test(name)) rmSync(`${dir}/${name}`, {force: true, recursive: true})
}

function stepSnapshots(steps: readonly StepRecord[]): BackupRunRecord['snapshots'] {
  return steps.filter((s) => s.status === 'ok' && s.snapshot_id).map((s) => ({group: s.name, id: s.snapshot_id!, bytes: s.bytes ?? 0}))
}

/** The temporary pack files a killed restic left in a local repository, removed; never a reason to fail the run. */
async function sweepPacks(engine: Engine, restic: Restic): Promise<string[]> {
  try {
    const {files, bytes} = await sweepAbandonedPacks(restic)
    if (files === 0) return []
    const what = `removed ${files} temporary pack file(s) (${(bytes / 1048576).toFixed(1)} MiB) a killed restic had left in the repository`
    engine.log.warn(what)
    return [what]
  } catch (error) {
    engine.log.warn(`could not look for temporary pack files a killed restic left: ${engine.redactor.redact(errorMessage(error))}`)
    return []
  }
}

async function execute(configured: Engine, record: BackupRunRecord, options: BackupOptions, runStart: Date, leftovers: Leftover[], notebook: RunNotebook, opened: (restic: Restic) => void): Promise<void> {
  // Preflight: everything that can be checked before a byte is written.
  const inAccessory = configured.env.KAMAL_BACKUP_IN_ACCESSORY === '1'
  // Host mode: each volume entry becomes the directory the runtime keeps it in now (a missing volume fails here).
  const resolved = await resolveVolumes(configured.config.paths, {exec: configured.exec, env: configured.env, inAccessory, signal: configured.signal})
  if (resolved.volumes.length > 0) record.volumes = resolved.volumes
  const engine: Engine = {...configured, config: {...configured.config, paths: resolved.paths}}
  const {config, redactor} = engine
  const databases = config.databases.map((db) => resolveDatabase(db, engine.secrets, redactor))
  for (const db of databases) databaseAdapter(db.adapter).checkSource(db)
  // Nothing to save is a failure: a path that is missing, empty, or (in the accessory) not on a mounted volume.
  record.file_counts = checkPaths(config, {inAccessory})
  const restic = await openRepository(engine)
  opened(restic)
  record.restic_version = restic.version.text

  const runId = record.run_id!
  const host = options.trigger === 'pre-deploy' ? preDeployHost(config.app) : snapshotHost(config.app)
  const common = [...appTags(config.app), `run:${runId}`, ...kindTags(options), ...(options.extraTags ?? [])]
  let initChecked = false
  /** The first repository call tells whether the repository exists; init_if_missing creates it then (only then). */
  const withRepository = async <T>(call: () => Promise<T>): Promise<T> => {
    if (initChecked) return call()
    try {
      const result = await call()
      initChecked = true
      return result
    } catch (error) {
      if (!(isKamalBackupError(error) && error.code === 'restic/no-repository' && config.restic.initIfMissing)) throw error
      engine.log.info('the restic repository does not exist yet: creating it (restic.init_if_missing)')
      await restic.init()
      initChecked = true
      return call()
    }
  }

  const step = async (name: string, title: string, work: (task: TaskHandle, started: number) => Promise<BackupSummary | void>, onError?: (error: unknown) => void): Promise<boolean> => {
    const entry: StepRecord = {name, status: 'failed', started_at: engine.now().toISOString(), duration_ms: null}
    record.steps.push(entry)
    notebook.step(name)
    const started = Date.now()
    let failure: {error: unknown} | undefined
    try {
      const summary = await engine.progress.task(title, (task) => work(task, started), (s) => (s ? `${bytes(s.bytes)} read${rate(s.bytes, Date.now() - started)}, ${bytes(s.dataAdded)} new, snapshot ${s.snapshotId.slice(0, 8)}` : 'done'))
      if (summary) notebook.snapshot(name, summary.snapshotId)
      entry.status = 'ok'
      if (summary) {
        entry.snapshot_id = summary.snapshotId
        entry.bytes = summary.bytes
        entry.data_added = summary.dataAdded
      }
      return true
    } catch (error) {
      onError?.(error)
      failure = {error}
      entry.error = redactor.redact(errorMessage(error))
      record.failed_step ??= name
      record.error ??= entry.error
      if (error instanceof InterruptedError) throw error
      return false
    } finally {
      entry.duration_ms = Date.now() - started
      engine.events.emit({type: 'step-finished', app: config.app, run_id: runId, step: entry, title, ...failure})
    }
  }

  // 1. Databases, in order. A failure does not stop the others: more data is saved, but the run stays failed.
  for (const db of databases) {
    const tags = [...common, 'type:database', databaseGroup(db.name), `adapter:${db.adapter}`]
    // A flat name: restic 0.18.0 cannot create directories for --stdin-filename (fixed in 0.18.1).
    const filename = `${config.app}.${db.name}.${databaseAdapter(db.adapter).extension}`
    await step(databaseGroup(db.name), `database ${db.name} (${db.adapter})`, async (task, started) => {
      const summary = await withRepository(() => backupDatabase(engine, restic, db, filename, {tags, host, time: runStart}, task, started))
      if (summary.bytes === 0) {
        // An empty dump is a failed dump: its snapshot must not make the run look complete.
        try {
          await restic.forgetIds([summary.snapshotId])
        } catch (error) {
          throw new LeftoverSnapshotError(`the dump was empty (0 bytes), and its snapshot ${summary.snapshotId.slice(0, 8)} could not be removed: ${redactor.redact(errorMessage(error))}`, summary.snapshotId, [])
        }
        throw new KamalBackupError('the dump was empty (0 bytes); its snapshot was removed', {code: 'dump/empty', suggestions: ['check that the database exists and the dump tool works here']})
      }
      return summary
    }, (error) => {
      if (error instanceof LeftoverSnapshotError) {
        leftovers.push({id: error.snapshotId, group: databaseGroup(db.name)})
        notebook.snapshot(databaseGroup(db.name), error.snapshotId, true)
      }
    })
  }
  const leftover = leftovers.length > 0
  // 2. Files: one snapshot for every path. Not when a failed dump's snapshot could not be removed: without the
  // files the run stays incomplete, so that snapshot can never become part of `latest`.
  if (config.paths.length > 0) {
    const tags = [...common, 'type:files', ...config.paths.map((p) => `path:${p.label}`), ...resolved.volumes.map(volumeTag)]
    if (leftover) {
      record.steps.push({name: FILES_GROUP, status: 'skipped', started_at: null, duration_ms: null, error: 'skipped: a failed dump left a snapshot that could not be removed; this run must stay incomplete'})
    } else {
      await step(
        FILES_GROUP,
        `files (${config.paths.map((p) => p.path).join(', ')})`,
        (task, started) => withRepository(() => restic.backupPaths(config.paths.map((p) => p.path), fileExcludes(engine, databases), {tags, host, time: runStart}, (p) => task.update(progressText(p, started)))),
        (error) => {
          if (error instanceof LeftoverSnapshotError) {
            leftovers.push({id: error.snapshotId, group: FILES_GROUP})
            notebook.snapshot(FILES_GROUP, error.snapshotId, true)
          }
        },
      )
    }
  }
  // 3. Every group must have a snapshot with something in it.
  const groups = expectedGroups(config)
  record.snapshots = stepSnapshots(record.steps)
  // What shrank since the previous complete run: saved, but someone should look (a warning, not a failure).
  record.warnings = shrinkWarnings(config, {fileCounts: record.file_counts ?? [], snapshots: record.snapshots}, engine.state.read<BackupRunRecord>(STATE_FILES.lastSuccessfulBackup))
  if (record.steps.some((s) => s.status !== 'ok')) {
    for (const name of ['forget', 'check']) record.steps.push({name, status: 'skipped', started_at: null, duration_ms: null})
    return
  }
  // 4. Retention (which also proves the new snapshots are in the repository), or a plain listing.
  const newIds = record.snapshots.map((s) => s.id)
  const policy = config.restic.retention
  // Never forget during a safety backup: retention could remove the very run that is about to be restored.
  const safety = options.trigger === 'pre-restore'
  // Before a deploy (which waits for it): only its own retention (backup.pre_deploy_keep, forgetting by id, no
  // prune; with forget_after_backup: false, `prune` applies it) and no check; the next scheduled run prunes and checks.
  const preDeploy = options.trigger === 'pre-deploy'
  if (preDeploy && config.restic.forgetAfterBackup) {
    const ok = await step('forget', `retention of restore points before deploys (backup.pre_deploy_keep: ${config.preDeployKeep})`, async () => {
      const {runs} = await loadRuns(engine, restic)
      const run = runs.find((r) => r.id === runId)
      assertVisible(newIds, run?.snapshots.map((s) => s.id) ?? [])
      await forgetOldRestorePoints(engine, restic, runs, runId)
    })
    if (!ok) return
  } else if (config.restic.forgetAfterBackup && policy && !safety && !preDeploy) {
    const ok = await step('forget', 'retention (restic forget --prune)', async () => {
      const started = engine.now()
      try {
        await forgetPartialSnapshots(engine, restic)
        // The run just saved is the newest complete one: whatever the policy says, it stays (--keep-tag).
        const {kept, removed} = await restic.forget(appTags(config.app), policy, true, regularKeepTags(runId))
        engine.state.write(STATE_FILES.lastPrune, maintenanceRecord(engine, 'prune', started, {removed: removed.length, kept: kept.length, output: `${removed.length} snapshot(s) removed, ${kept.length} kept (after backup run ${runId})`}))
        assertVisible(newIds, kept)
      } catch (error) {
        if (!(isKamalBackupError(error) && error.code === 'backup/not-visible')) engine.state.write(STATE_FILES.lastPrune, {...maintenanceRecord(engine, 'prune', started, {error}), damage: damageSince(engine, error, started)})
        throw error
      }
    })
    if (!ok) return
  } else {
    const ok = await step('verify', 'verify snapshots', async () => {
      const found = await restic.snapshots([...appTags(config.app), `run:${runId}`])
      assertVisible(newIds, found.map((s) => s.id))
      const present = new Set(found.map((s) => (s.tags ?? []).find((t) => t.startsWith('database:')) ?? (s.tags?.includes('type:files') ? FILES_GROUP : '')))
      const missing = groups.filter((g) => !present.has(g))
      if (missing.length > 0) throw new KamalBackupError(`the repository has no snapshot of ${missing.join(', ')} for run ${runId}`, {code: 'backup/not-visible'})
    })
    if (!ok) return
  }
  // 5. Integrity check, as configured.
  if (config.restic.checkAfterBackup && !safety && !preDeploy) {
    const ok = await step('check', `restic check${config.restic.checkReadDataSubset ? ` --read-data-subset ${config.restic.checkReadDataSubset}` : ''}`, async () => {
      const started = engine.now()
      const subset = config.restic.checkReadDataSubset ?? null
      try {
        const output = await restic.check(config.restic.checkReadDataSubset)
        engine.state.write(STATE_FILES.lastCheck, maintenanceRecord(engine, 'check', started, {read_data_subset: subset, output: output.trim().split('\n').slice(-3).join('\n')}))
      } catch (error) {
        engine.state.write(STATE_FILES.lastCheck, {...maintenanceRecord(engine, 'check', started, {read_data_subset: subset, error}), damage: damageSince(engine, error, started)})
        throw error
      }
    })
    if (!ok) return
  }
  record.status = 'ok'
}

/** last_check.json / last_prune.json written by a backup's own check and forget steps: the same shape `check` and
 *  `prune` record (schemas/output/check.schema.json, prune.schema.json), so evidence reads one format. */
function maintenanceRecord(engine: Pick<Engine, 'now' | 'redactor'>, kind: 'check' | 'prune', started: Date, fields: {read_data_subset?: string | null; removed?: number; kept?: number; output?: string; error?: unknown}): MaintenanceRecord {
  const finished = engine.now()
  const {error, output, ...rest} = fields
  return engine.redactor.redactValue({
    schema_version: 1,
    kind,
    status: error === undefined ? 'ok' : 'failed',
    started_at: started.toISOString(),
    finished_at: finished.toISOString(),
    duration_ms: finished.getTime() - started.getTime(),
    ...rest,
    output: output ?? null,
    error: error === undefined ? null : errorMessage(error),
  })
}

function assertVisible(newIds: string[], present: string[]): void {
  // restic 0.14 reports 8-character ids in the backup summary.
  const missing = newIds.filter((id) => !present.some((p) => p === id || p.startsWith(id)))
  if (missing.length > 0) {
    throw new KamalBackupError(`snapshot(s) ${missing.join(', ')} are not visible in the repository after the backup`, {code: 'backup/not-visible', suggestions: ['run `kamal-backup check` and look at the repository with `kamal-backup list`']})
  }
}

/** One database into its own snapshot: a dump streamed into restic (with --stdin-from-command when restic has it,
 *  so a failed dump saves nothing), or a consistent copy stored from a file and removed. */
async function backupDatabase(engine: Engine, restic: Restic, db: ResolvedDatabase, filename: string, snapshot: SnapshotTags, task: TaskHandle, started: number): Promise<BackupSummary> {
  const onProgress = (p: Parameters<typeof progressText>[0]) => task.update(progressText(p, started))
  const runId = snapshot.tags.find((t) => t.startsWith('run:'))!.slice(4)
  const dump = await databaseAdapter(db.adapter).dump(engine, db, {scratchDir: engine.state.file('tmp'), runId})
  if (dump.kind === 'file') {
    try {
      return await restic.backupFile(filename, snapshot, dump.path, onProgress)
    } finally {
      dump.cleanup()
    }
  }
  const tagged = {...snapshot, tags: [...snapshot.tags, ...dump.tags]}
  try {
    return await (restic.caps.stdinFromCommand ? restic.backupFromCommand(filename, tagged, dump.spec, onProgress) : restic.backupPiped(filename, tagged, dump.spec, onProgress))
  } finally {
    // The dump's password file (src/db/credentials.ts).
    dump.cleanup?.()
  }
}

/** Per-path excludes, plus the files of every database inside a backed-up path (SQLite: it is stored consistently
 *  as a database snapshot; a file copy of a live database, or its -wal/-shm/-journal, would be torn). restic applies every
 *  --exclude to every path, and a pattern without a leading slash matches at any depth of the absolute path
 *  (`tmp` would drop all of /tmp/app): so a relative pattern is anchored under its own path, at any depth there. */
export function fileExcludes(engine: Pick<Engine, 'config'>, databases: readonly ResolvedDatabase[]): string[] {
  const out = engine.config.paths.flatMap((p) => p.exclude.map((pattern) => anchorExclude(p.path, pattern)))
  // A restore's staging directories and write probes (left behind only if it was killed) are never backed up.
  out.push('*.kamal-backup-restore-*', '.kamal-backup-write-test-*')
  for (const db of databases) {
    const files = databaseAdapter(db.adapter).files(db)
    if (files.length === 0 || !engine.config.paths.some((p) => files[0]!.startsWith(p.path + '/'))) continue
    out.push(...files)
  }
  return [...new Set(out)]
}

// `cache` under /rails/storage becomes /rails/storage/**/cache: anywhere below that path, and only there.
export function anchorExclude(path: string, pattern: string): string {
  const negated = pattern.startsWith('!')
  const body = negated ? pattern.slice(1) : pattern
  if (body.startsWith('/')) return pattern
  const base = path.replace(/\/+$/, '').replace(/[*?[\\]/g, (c) => `\\${c}`)
  return `${negated ? '!' : ''}${base}/**/${body.replace(/^(\.\/)+/, '')}`
}

/** Bytes, percentage and throughput, timed by our own clock from the step's start (restic's seconds_elapsed is a
 *  whole number: nothing in the first second, then an overestimate). */
function progressText(p: {bytesDone: number; totalBytes?: number; percent?: number}, started: number, now = Date.now()): string {
  const pct = p.percent !== undefined && p.totalBytes ? ` (${Math.round(p.percent * 100)}%)` : ''
  return `${bytes(p.bytesDone)}${pct}${rate(p.bytesDone, now - started)}`
}

/** ", 12.3 MiB/s" once there is something to measure. */
export function rate(done: number, elapsedMs: number): string {
  return elapsedMs >= 200 && done > 0 ? `, ${bytes((done * 1000) / elapsedMs)}/s` : ''
}

export function describeSkip(record: BackupRunRecord, engine: Pick<Engine, 'config'>): string {
  if (record.reason === 'disabled') return 'backups are disabled (backup.enabled: false); `kamal-backup backup --force` runs one anyway'
  return `not due: last successful backup ${record.last_success_at}, next due ${record.next_due_at} (${describeSchedule(engine.config.schedule)}); \`kamal-backup backup --force\` runs one now`
}

