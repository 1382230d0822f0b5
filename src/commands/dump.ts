import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, REMOTE_CLIENT_ENV, restoreSelection, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {InterruptedError, KamalBackupError, UsageError} from '../errors.js'
import type {DumpPlan, DumpResult} from '../documents.js'
import type {TaskHandle} from '../engine/progress.js'

export default class Dump extends AccessoryCommand<typeof Dump> {
  static override summary = "Write a database's dump from a backup run to a file (or stdout), e.g. to load into staging"
  static override description = `The dump is the snapshot's own bytes (\`restic dump\` of the database's snapshot in the run): a PostgreSQL custom-format archive (pg_restore reads it), a MySQL/MariaDB SQL file, or a SQLite database file. From an app checkout the accessory streams it over the one SSH connection: this machine needs neither restic nor the repository's credentials.

[SNAPSHOT] is latest (the newest complete run), a run id or a snapshot id; --at picks the latest complete run at or before a time, as for restore. With one database --database may be omitted; with several it names one.

-o FILE: written under a temporary name beside FILE (.FILE.kamal-backup-dump-PID, mode 0600) and put in place only when the stream ended cleanly, restic exited 0 in the accessory and the bytes received equal the snapshot's recorded size (restic 0.17+ records it in the snapshot, older ones in the accessory's run records; a run with no recorded size is checked by the clean end of the stream and restic's exit status only, and the document says "size": "unknown"). Anything else — Ctrl-C, a lost connection, restic failing, a size mismatch, --verify failing — removes the temporary file and leaves FILE as it was. An existing FILE is refused without --force.

-o - streams to stdout for a pipe (kamal-backup dump -o - | pg_restore -d staging --no-owner): nothing else is written on stdout, so there is no --json document then (--json with -o - is refused). The size can only be checked once the bytes are gone: a mismatch is reported on stderr and exits 1 (dump/incomplete). --verify needs -o FILE.

--verify reads the dump back before it is put in place, with the database's own tool on this machine: pg_restore --list (PostgreSQL), sqlite3 PRAGMA integrity_check (SQLite), or the MySQL dump's closing lines (no tool). A missing tool is an error naming it.

Progress (bytes, rate) is shown on stderr on a terminal, as plain lines elsewhere. Every dump is recorded where restic ran (the accessory's state directory; this one with --local) in dumps.jsonl: who (KAMAL_BACKUP_OPERATOR, else the user of the workstation that asked), the run, the database, the bytes, when, and whether it ended ok; \`evidence\` summarises them (dumps: count, last).

${WHERE_IT_RUNS}

EXIT CODES
  0  written (or streamed) whole
  1  the run or snapshot was not found, restic failed, the size differs (dump/incomplete), --verify failed (dump/unverified)
  2  bad arguments, or FILE exists without --force (dump/exists)
  130 interrupted: FILE untouched, the temporary file removed`

  static override examples = [
    {description: "Last night's production database, to a file", command: '<%= config.bin %> <%= command.id %> -d production --database primary -o primary.pgdump'},
    {description: 'Straight into a staging database', command: '<%= config.bin %> <%= command.id %> --database primary -o - | pg_restore -d staging --no-owner'},
    {description: 'A given run, read back with pg_restore --list before it is kept, replacing an older copy', command: '<%= config.bin %> <%= command.id %> 20261120T030000Z -o primary.pgdump --verify --force'},
    {description: 'The run that was current at a time, as JSON', command: '<%= config.bin %> <%= command.id %> --at 2026-11-21T03:00:00Z -o app.sqlite3 --json'},
  ]

  static override args = {
    snapshot: Args.string({description: 'latest (the newest complete run), a run id (20261122T030000Z) or a snapshot id', default: 'latest'}),
  }

  static override flags = {
    at: Flags.string({summary: 'Dump from the latest complete run at or before this time (ISO 8601, e.g. 2026-11-20T03:00:00Z).'}),
    database: Flags.string({summary: 'The database (its name in config/kamal-backup.yml); needed when there are several.'}),
    output: Flags.string({char: 'o', summary: 'Write to FILE (atomically, see above), or - for stdout.', required: true, helpValue: 'FILE|-'}),
    force: Flags.boolean({summary: 'Replace FILE if it exists.'}),
    verify: Flags.boolean({summary: "Read the dump back with the database's own tool before it is kept (needs -o FILE)."}),
  }

  /** From a workstation: the accessory streams the bytes (`dump ... -o -` there), written here. */
  protected override async inAccessory(input: Parsed<typeof Dump>): Promise<number> {
    const {args, flags, raw} = input
    const toStdout = this.checkOutput(flags)
    // Refused before anything is read; checked again (atomically) when the file is put in place.
    const {assertWritableTarget, ByteSink, DumpFile, assertSize, transferDetail} = await import('../engine/dump.js')
    if (!toStdout) assertWritableTarget(flags.output, flags.force)
    const {dumpFromAccessory} = await import('../remote/dump.js')
    const {drillOperator} = await import('../engine/drill.js')
    const named = raw.some((token) => token.type === 'arg')
    const argv = [...(named ? [args.snapshot] : []), ...(flags.at !== undefined ? ['--at', flags.at] : []), ...(flags.database !== undefined ? ['--database', flags.database] : []), '--output', '-']
    const file = toStdout ? undefined : DumpFile.open(flags.output, flags.force)
    const sink = file ? file.stream : new ByteSink(process.stdout)
    const progress = await this.progress()
    const started = Date.now()
    let committed = false
    try {
      let plan: DumpPlan | undefined
      let task: TaskHandle | undefined
      const label = flags.database ?? 'the database'
      const outcome = await progress.task(
        `dump ${label} from the accessory → ${toStdout ? 'stdout' : flags.output}`,
        async (handle) => {
          task = handle
          sink.onProgress = (n) => task?.update(transferDetail(n, plan?.bytes ?? null, Date.now() - started))
          return dumpFromAccessory(this.remoteOptions(flags, argv, {operator: drillOperator(process.env)}), sink, (found) => {
            plan = found
            this.ui.info(`run ${found.run_id} (${found.run_time}), database ${found.database}, snapshot ${found.short_id}${found.bytes !== null ? `, ${found.bytes} bytes` : ', size not recorded'}`)
          })
        },
        (result) => (result.exitCode === 0 ? transferDetail(sink.bytes, plan?.bytes ?? null, Date.now() - started) : `exit ${result.exitCode}`),
      )
      if (sink.error && !toStdout) throw new KamalBackupError(`cannot write ${flags.output}: ${sink.error.message}; nothing was kept`, {code: 'command/failed', cause: sink.error})
      if (outcome.exitCode === 130) throw new InterruptedError()
      // `dump -o - | head`: the reader left; exit as a process killed by SIGPIPE.
      if (outcome.exitCode === 141 && toStdout) return 141
      if (outcome.exitCode !== 0) {
        // The accessory said why on stderr (passed through above).
        if (!outcome.plan && !this.jsonEnabled()) return outcome.exitCode
        throw new KamalBackupError(`the dump stopped in the accessory (exit ${outcome.exitCode}, its error is above)${outcome.plan ? ` after ${sink.bytes} bytes` : ''}: ${toStdout ? 'stdout got an incomplete dump' : `${flags.output} was not written`}`, {code: outcome.plan ? 'dump/incomplete' : 'command/failed', exitCode: outcome.exitCode})
      }
      plan = outcome.plan!
      if (!file) {
        this.checkStreamed(sink.bytes, plan, assertSize)
        return 0
      }
      const verify = flags.verify ? {exec: (await import('../exec/executor.js')).localExecutor, env: process.env, signal: this.abortController.signal, redactor: this.ui.redactor} : undefined
      const kept = await file.commit(plan, {verify})
      committed = true
      const doc = this.finishFile(plan, kept, file.target, Date.now() - started)
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify(this.redactor.redactValue(doc), null, 2) + '\n')
      return 0
    } finally {
      if (file && !committed) {
        sink.destroy()
        file.discard()
      }
    }
  }

  protected async here(input: Parsed<typeof Dump>): Promise<DumpResult | undefined> {
    const {args, flags, raw} = input
    const toStdout = this.checkOutput(flags)
    const {assertWritableTarget, DumpFile, assertSize, planDump, streamDump, transferDetail} = await import('../engine/dump.js')
    if (!toStdout) assertWritableTarget(flags.output, flags.force)
    const selection = restoreSelection(args, {at: flags.at}, raw)
    const engine = await this.engine(flags, {}, {report: false})
    const plan = await planDump(engine, selection, flags.database)
    const started = Date.now()
    if (toStdout) {
      // For a workstation: the plan first, on stderr (src/remote/dump.ts), then the bytes. It checks the size.
      if (process.env[REMOTE_CLIENT_ENV]) {
        const {formatPlanLine} = await import('../remote/dump.js')
        process.stderr.write(formatPlanLine(plan))
        await streamDump(engine, plan, {fd: 1})
        return undefined
      }
      this.ui.info(`run ${plan.run_id} (${plan.run_time}), database ${plan.database}, snapshot ${plan.short_id}`)
      this.checkStreamed((await streamDump(engine, plan, process.stdout))!, plan, assertSize)
      return undefined
    }
    const file = DumpFile.open(flags.output, flags.force)
    let committed = false
    try {
      let last = 0
      const kept = await engine.progress.task(
        `dump ${plan.database} (run ${plan.run_id}, snapshot ${plan.short_id}) → ${flags.output}`,
        async (task) => {
          await streamDump(engine, plan, file.stream, {
            onBytes: (n) => {
              if (Date.now() - last < 250) return
              last = Date.now()
              task.update(transferDetail(n, plan.bytes, last - started))
            },
          })
          return file.commit(plan, {verify: flags.verify ? engine : undefined})
        },
        (r) => transferDetail(r.bytes, plan.bytes, Date.now() - started),
      )
      committed = true
      return this.finishFile(plan, kept, file.target, Date.now() - started)
    } finally {
      if (!committed) file.discard()
    }
  }

  /** -o - or -o FILE, and the flags that go with each. Returns whether the dump goes to stdout. */
  private checkOutput(flags: Parsed<typeof Dump>['flags']): boolean {
    const toStdout = flags.output === '-'
    if (toStdout && this.jsonEnabled()) throw new UsageError('--json with -o -: stdout carries the dump, so there is no room for the document', {suggestions: ['write to a file (-o FILE --json), or drop --json']})
    if (toStdout && flags.verify) throw new UsageError('--verify needs -o FILE: the dump is read back before it is kept, and a stream cannot be', {suggestions: ['-o FILE --verify, then load FILE']})
    if (toStdout && flags.force) this.ui.warn('--force has no effect with -o -')
    if (flags.output === '') throw new UsageError('-o needs a FILE, or - for stdout')
    return toStdout
  }

  /** -o -: the bytes are gone; the size can only be reported (and fail the exit code). */
  private checkStreamed(received: number, plan: DumpPlan, assertSize: (n: number, plan: DumpPlan) => void): void {
    assertSize(received, plan)
    this.ui.info(`streamed ${received} bytes of database ${plan.database} (run ${plan.run_id})${plan.bytes === null ? ': the snapshot records no size, so only the clean end of the stream vouches for it' : ', the size the snapshot records'}`)
  }

  private finishFile(plan: DumpPlan, kept: Pick<DumpResult, 'bytes' | 'checked'>, file: string, durationMs: number): DumpResult {
    this.ui.success(`wrote ${file}: ${kept.bytes} bytes of database ${plan.database} from run ${plan.run_id}${kept.checked.size === 'equal' ? ' (the size the snapshot records)' : ' (no size recorded for this snapshot: checked by the clean end of the stream only)'}${kept.checked.verify ? `; ${kept.checked.verify}` : ''}`)
    return {kind: 'dump', app: plan.app, run_id: plan.run_id, run_time: plan.run_time, database: plan.database, adapter: plan.adapter, snapshot_id: plan.snapshot_id, file, bytes: kept.bytes, expected_bytes: plan.bytes, checked: kept.checked, duration_ms: durationMs}
  }
}
