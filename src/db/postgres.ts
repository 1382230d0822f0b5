// PostgreSQL: connection through PG* environment variables (nothing secret on argv), the client matching the
// server's major version (pg_dump refuses servers newer than itself), custom-format dumps.
import {credentialFile, DUMP_INHERITS, pgpassContent} from './credentials.js'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {InterruptedError, KamalBackupError} from '../errors.js'
import {runChecked, type Executor} from '../exec/executor.js'
import {CommandFailedError, lastLines} from '../exec/local.js'
import type {Argv, CommandSpec} from '../exec/spec.js'
import type {Secret} from '../redact.js'
import {checkStream, databaseInUse, missingTool, missingVerifyTool, restoredTables, rowCounts, unreachable, unverifiedDump, type DatabaseAdapter, type DatabaseTarget, type DbContext, type DumpSource} from './adapter.js'
import {describeDatabase, serverUrl, type ResolvedDatabase} from './connection.js'
import {DATABASE_KINDS} from '../config/types.js'
import {ArchiveRowCounter} from './pg-archive.js'

const PARAM_ENV: Record<string, string> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  application_name: 'PGAPPNAME',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
}

/** The libpq environment for a database (optionally another database on the same server). */
export function postgresEnv(db: ResolvedDatabase, database = db.database): Record<string, string | Secret | undefined> {
  const env: Record<string, string | Secret | undefined> = {
    // Inherited settings must not redirect the connection.
    PGSERVICE: undefined,
    PGSERVICEFILE: undefined,
    PGPASSFILE: undefined,
    PGHOST: db.host,
    PGPORT: db.port !== undefined ? String(db.port) : undefined,
    PGUSER: db.user,
    PGDATABASE: database,
    PGPASSWORD: db.password,
  }
  for (const [param, value] of Object.entries(db.params)) if (PARAM_ENV[param]) env[PARAM_ENV[param]!] = value
  return env
}

export interface PostgresTools {
  pg_dump: string
  pg_restore: string
  psql: string
  /** The server's major version, when probed. */
  serverMajor?: number
  /** The clients' major version, when they were picked by it (KAMAL_BACKUP_POSTGRES_CLIENT_ROOT). */
  major?: number
}

/** The tag on a PostgreSQL database snapshot naming the major version of the pg_dump that wrote it: pg_restore
 *  reads archives of its own major and older ones, so a restore can tell without reading the dump. */
export const PG_DUMP_TAG = 'pg_dump:'

/** The major version of a PostgreSQL client (`pg_restore --version` → "pg_restore (PostgreSQL) 15.18"), undefined
 *  when it cannot tell. Asked in a process group of its own with a short limit: it may be a wrapper script. */
export async function clientMajor(executor: Executor, tools: PostgresTools, tool: 'pg_dump' | 'pg_restore', signal?: AbortSignal): Promise<number | undefined> {
  if (tools.major !== undefined) return tools.major
  const result = await executor.run({argv: [tools[tool], '--version'], label: `${tool} --version`}, {processGroup: true, timeoutMs: 10_000, ...(signal && {signal})})
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(result.stdout)
  return result.exitCode === 0 && match ? Number(match[1]) : undefined
}

/** Clients under KAMAL_BACKUP_POSTGRES_CLIENT_ROOT/<major>/bin (the image), else from PATH. */
export async function postgresTools(executor: Executor, db: ResolvedDatabase, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<PostgresTools> {
  const root = env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT
  const majors = clientMajors(env)
  if (!root || majors.length === 0) return {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'}
  const newest = majors.at(-1)!
  const probe = await executor.run(
    {argv: [join(root!, String(newest), 'bin', 'psql'), '-X', '-A', '-t', '-c', 'SHOW server_version_num'], env: postgresEnv(db), label: 'psql (server version)'},
    signal ? {signal, timeoutMs: 30_000} : {timeoutMs: 30_000},
  )
  const number = Number(probe.stdout.trim())
  if (probe.exitCode !== 0 || !Number.isFinite(number) || number <= 0) {
    throw new KamalBackupError(`cannot connect to PostgreSQL database "${db.name}": ${lastLines(probe.stderr, 3) || 'no answer'}`, {
      code: 'database/unreachable',
      suggestions: ['check the database URL, password and that the server is reachable from the accessory'],
    })
  }
  const serverMajor = Math.floor(number / 10_000)
  // pg_dump works against its own major and older servers: take the oldest client that is new enough.
  const major = majors.find((m) => m >= serverMajor)
  if (major === undefined) {
    throw new KamalBackupError(`PostgreSQL ${serverMajor} is newer than every client in this image (${majors.join(', ')})`, {
      code: 'database/no-client',
      suggestions: ['upgrade the kamal-backup accessory image to a release that ships this PostgreSQL version'],
    })
  }
  const bin = (tool: string) => join(root!, String(major), 'bin', tool)
  return {pg_dump: bin('pg_dump'), pg_restore: bin('pg_restore'), psql: bin('psql'), serverMajor, major}
}

/** pg_restore 17 and later set transaction_timeout when they connect, which servers before 17 reject: against
 *  such a server it fails before loading anything, after the restore has already replaced other parts. Refused
 *  in the preflight instead (an image without the server's own client; the published one ships 14-18). */
function clientCanRestoreInto(name: string, tools: PostgresTools, majors: number[]): void {
  const {major, serverMajor} = tools
  if (major === undefined || serverMajor === undefined || major < 17 || serverMajor >= 17) return
  throw new KamalBackupError(`pg_restore ${major} cannot restore database ${name} into PostgreSQL ${serverMajor}: from 17 on it sets transaction_timeout, which PostgreSQL ${serverMajor} rejects; this image has PostgreSQL clients ${majors.join(', ')}; nothing was changed`, {
    code: 'database/no-client',
    suggestions: [`run an image with the PostgreSQL ${serverMajor} client (the published kamal-backup image ships clients 14-18), or upgrade the server to PostgreSQL 17 or later`],
  })
}

/** The client majors in the image (KAMAL_BACKUP_POSTGRES_CLIENT_ROOT/<major>/bin/pg_dump), oldest first. */
export function clientMajors(env: NodeJS.ProcessEnv): number[] {
  const root = env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT
  return root && existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'pg_dump'))).map(Number).sort((a, b) => a - b) : []
}

/** Custom format, uncompressed: restic deduplicates across runs and compresses with zstd itself. */
/** pg_dump with only its own settings: the password from `passfile` (see credentials.ts), never PGPASSWORD. */
export function pgDumpSpec(db: ResolvedDatabase, tools: PostgresTools, passfile?: string): CommandSpec {
  return {
    argv: [tools.pg_dump, '--format=custom', '--compress=0', '--no-owner', '--no-privileges'],
    env: {...postgresEnv(db), PGPASSWORD: undefined, PGPASSFILE: passfile},
    inheritEnv: DUMP_INHERITS,
    label: `pg_dump ${db.name}`,
  }
}

// ---- restore ------------------------------------------------------------------------------------------------

/** Drops every schema except PostgreSQL's own and recreates `public`: a restore starts from an empty database,
 *  so objects that exist only in the target cannot survive or collide. Publications and event triggers live
 *  outside schemas, and the dump creates them again (without IF NOT EXISTS): they go too. One DO block, so one
 *  transaction: all of it, or nothing. */
export const POSTGRES_RESET_SQL = `DO $$
DECLARE s record;
BEGIN
  FOR s IN SELECT evtname FROM pg_event_trigger LOOP
    EXECUTE format('DROP EVENT TRIGGER %I', s.evtname);
  END LOOP;
  FOR s IN SELECT pubname FROM pg_publication LOOP
    EXECUTE format('DROP PUBLICATION %I', s.pubname);
  END LOOP;
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s.nspname);
  END LOOP;
  CREATE SCHEMA public;
END $$;`

export function psqlSpec(db: ResolvedDatabase, tools: PostgresTools, database: string | undefined, label: string): CommandSpec {
  return {argv: [tools.psql, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'], env: postgresEnv(db, database), label}
}

/** One transaction, stop at the first error, and --verbose so we learn which tables the dump had. The session
 *  waits at most `lockTimeoutSeconds` for a lock, and no role-level statement_timeout can cut a long restore. */
export function pgRestoreSpec(db: ResolvedDatabase, tools: PostgresTools, database: string, lockTimeoutSeconds = 30): CommandSpec {
  return {
    argv: [tools.pg_restore, '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', '--verbose', `--dbname=${database}`],
    env: {...postgresEnv(db, database), PGOPTIONS: `-c lock_timeout=${lockTimeoutSeconds * 1000} -c statement_timeout=0`},
    label: `pg_restore ${database}`,
  }
}

/** The dump's header and table of contents, read from stdin: pg_restore stops before the data. */
export function pgRestoreListSpec(tools: PostgresTools): CommandSpec {
  return {argv: [tools.pg_restore, '--list'], label: 'pg_restore --list'}
}

/** 1 for a `TABLE` entry of `pg_restore --list` (`215; 1259 16386 TABLE public users owner`), else 0. */
export function tocTableCount(line: string): number {
  return /^\d+; \d+ \d+ TABLE (?!DATA )/.test(line) ? 1 : 0
}

/** Every table with its own rows (ONLY: not its inheritors' or partitions', as the dump's COPY blocks count them),
 *  `<count> <schema>.<table>` a line; `-` for a table this user may not read, or sees through row-level security
 *  (its count would be the policy's, not the table's). One statement: query_to_xml runs a query per table. Without
 *  `count`, each table is probed for one row (0 or 1). */
export function postgresRowCountsSql(count: boolean): string {
  const from = count ? 'ONLY %I.%I' : '(SELECT 1 FROM ONLY %I.%I LIMIT 1) AS one'
  return `SELECT coalesce(CASE WHEN has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT')
    AND NOT row_security_active(format('%I.%I', schemaname, tablename))
  THEN (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ${from}', schemaname, tablename, schemaname, tablename), false, true, '')))[1]::text END, '-')
  || ' ' || schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;`
}


/** Can this session reset the database? Recovery (a standby), read-only sessions, the right to create schemas,
 *  and the schemas, publications and event triggers it cannot drop (it must own them, or be a superuser). One
 *  line, `|`-separated. */
export const POSTGRES_STATE_SQL = `SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),
  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
  has_database_privilege(current_database(), 'CREATE'),
  coalesce((SELECT string_agg(quote_ident(nspname), ', ' ORDER BY nspname) FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND NOT pg_has_role(current_user, nspowner, 'USAGE')), ''),
  coalesce((SELECT string_agg(x, ', ' ORDER BY x) FROM (
    SELECT 'publication ' || quote_ident(pubname) AS x FROM pg_publication WHERE NOT pg_has_role(current_user, pubowner, 'USAGE')
    UNION ALL SELECT 'event trigger ' || quote_ident(evtname) FROM pg_event_trigger WHERE NOT pg_has_role(current_user, evtowner, 'USAGE')) o), '');`

/** What keeps POSTGRES_STATE_SQL's session from resetting the database, or undefined. */
export function parsePostgresState(output: string): string | undefined {
  const [recovery, readOnly, superuser, create, schemas, others] = output.trim().split('|')
  if (recovery === 't') return 'the server is a read-only standby (pg_is_in_recovery)'
  if (readOnly === 'on') return 'its sessions are read-only (default_transaction_read_only is on)'
  if (superuser === 't') return undefined
  if (create === 'f') return 'this user may not create schemas in it (no CREATE privilege on the database)'
  if (schemas) return `this user does not own the schema(s) ${schemas}, so it cannot drop them to reset the database`
  if (others) return `this user does not own the ${others}, so it cannot drop them to reset the database (the dump creates them again)`
  return undefined
}

/** The table a `pg_restore --verbose` stderr line says it creates (`creating TABLE "public.users"`). */
export function tableFromPgRestoreLine(line: string): string | undefined {
  return /creating TABLE "([^"]+)"/.exec(line)?.[1]
}

/** Tables pg_restore reported creating, from its whole stderr. */
export function tablesFromPgRestore(stderr: string): string[] {
  const out = new Set<string>()
  for (const line of stderr.split('\n')) {
    const table = tableFromPgRestoreLine(line)
    if (table) out.add(table)
  }
  return [...out].sort()
}

/** pg_restore exits 0 after "errors ignored on restore: N" without --exit-on-error; we refuse that anyway. */
export function ignoredErrors(stderr: string): number {
  const match = /errors ignored on restore: (\d+)/.exec(stderr)
  return match ? Number(match[1]) : 0
}

// ---- the adapter ------------------------------------------------------------------------------------------------

const toolsByTarget = new WeakMap<ResolvedDatabase, Promise<PostgresTools>>()

/** A target's clients, found once per restore: in the image, finding them asks the server its version (a psql
 *  process and a connection), and the preflight, the dump check and the restore all need them. Asked through the
 *  maintenance database, since a drill's scratch database may not exist yet. */
function targetTools(ctx: DbContext, db: ResolvedDatabase): Promise<PostgresTools> {
  let tools = toolsByTarget.get(db)
  if (!tools) {
    tools = postgresTools(ctx.exec, {...db, database: 'postgres'}, ctx.env, ctx.signal)
    toolsByTarget.set(db, tools)
  }
  return tools
}

function psqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

function pgIdentifier(text: string): string {
  return `"${text.replace(/"/g, '""')}"`
}

/** A dry run of a drill whose scratch database does not exist yet: the drill would create it, so this user must
 *  be allowed to, on a primary. */
async function assertCanCreate(ctx: DbContext, db: ResolvedDatabase, tools: PostgresTools): Promise<void> {
  const sql = "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' WHEN rolsuper OR rolcreatedb THEN 'ok' ELSE 'no-createdb' END FROM pg_roles WHERE rolname = current_user;"
  const answer = (await runChecked(ctx.exec, psqlSpec(db, tools, 'postgres', 'psql (may this user create the scratch database?)'), {stdin: {text: sql + '\n'}, signal: ctx.signal, redactor: ctx.redactor})).stdout.trim()
  if (answer === 'ok') return
  const why = answer === 'standby' ? 'the server is a standby (read-only)' : 'it does not exist yet, and this user may not create databases (no CREATEDB)'
  throw new KamalBackupError(ctx.redactor.redact(`cannot drill into PostgreSQL database "${db.database}" (${describeDatabase(db)}): ${why}; nothing was changed`), {
    code: 'database/not-writable',
    suggestions: answer === 'standby' ? ['drill against the primary server'] : [`create ${db.database} first (as a user who may), owned by this user, or grant it CREATEDB`],
  })
}

/** Whether this pg_restore surely reads the dump: the snapshot's pg_dump tag is not newer than pg_restore. */
async function pgRestoreReads(ctx: DbContext, dump: DumpSource, tools: PostgresTools): Promise<string | undefined> {
  const tag = dump.tags.find((x) => x.startsWith(PG_DUMP_TAG))
  if (!tag) return undefined
  const local = await clientMajor(ctx.exec, tools, 'pg_restore', ctx.signal)
  return local !== undefined && Number(tag.slice(PG_DUMP_TAG.length)) <= local ? tag : undefined
}

/** `restic dump | pg_restore --list`: pg_restore reads only the header and the table of contents, then stops
 *  (restic runs without a lock, so stopping it early leaves none behind). A dump this pg_restore cannot read is
 *  refused here, before the database is reset. Returns the number of tables the table of contents lists. */
async function probeDump(ctx: DbContext, t: DatabaseTarget, dump: DumpSource, tools: PostgresTools): Promise<number> {
  const producer: CommandSpec = {...dump.spec, argv: [...dump.spec.argv, '--no-lock'] as unknown as CommandSpec['argv']}
  let tables = 0
  const result = await ctx.exec.stream(producer, pgRestoreListSpec(tools), {
    signal: ctx.signal,
    onConsumerStdoutLine: (line) => {
      tables += tocTableCount(line)
    },
  })
  if (result.producer.interrupted || result.consumer.interrupted) throw new InterruptedError()
  if (result.consumer.exitCode === 0) return tables
  // pg_restore could not read it. When restic failed, pg_restore only saw its input end early: restic's error
  // is the cause. (When pg_restore gives up first, restic is stopped; its exit status says nothing then.)
  const stderr = lastLines(result.consumer.stderr, 3)
  if (result.producer.exitCode !== 0 && (stderr === '' || /end of file|too short|magic string|could not read/i.test(stderr))) throw dump.error(result.producer)
  const version = /unsupported version \(([\d.]+)\) in file header/.exec(stderr)
  if (version) {
    throw new KamalBackupError(`the dump of database ${t.name} was written by a newer pg_dump (archive version ${version[1]}) than this pg_restore can read (${tools.pg_restore}${tools.serverMajor ? `, PostgreSQL ${tools.serverMajor}` : ''}); nothing was changed`, {
      code: 'database/client-too-old',
      suggestions: ['restore with a newer PostgreSQL client: upgrade the accessory image (or the PostgreSQL client on this machine) to the version that took the backup'],
    })
  }
  throw new KamalBackupError(ctx.redactor.redact(`pg_restore cannot read the dump of database ${t.name} (snapshot ${dump.shortId}): ${stderr || `exit ${result.consumer.exitCode}`}; nothing was changed`), {code: 'restore/bad-dump'})
}

export const postgres: DatabaseAdapter = {
  kind: 'postgres',
  location: DATABASE_KINDS.postgres.location,
  extension: 'pgdump',
  preflightTitle: 'reachable and writable',
  localExample: 'url: ...',

  files: () => [],
  connectionUrl: (db) => serverUrl('postgres', db),

  checkSource: () => {},

  async dump(ctx, db, {scratchDir}) {
    const tools = await postgresTools(ctx.exec, db, ctx.env, ctx.signal)
    const passfile = db.password ? credentialFile(scratchDir, 'pgpass', pgpassContent(db.password)) : undefined
    // Which pg_dump wrote it, when known without running anything (the image picks its clients by major): a
    // restore then knows, without reading the dump, whether its pg_restore can.
    return {kind: 'stream', spec: pgDumpSpec(db, tools, passfile?.path), tags: tools.major !== undefined ? [`${PG_DUMP_TAG}${tools.major}`] : [], ...(passfile && {cleanup: passfile.remove})}
  },

  assertRestoreTools(ctx, t) {
    // With the image's client root, postgresTools picks (and the preflight checks) the client matching the server.
    if (ctx.env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT) return
    for (const tool of ['psql', 'pg_restore']) if (!ctx.exec.which(tool, ctx.env.PATH)) throw missingTool(tool, `restore database ${t.name}`)
  },

  async preflight(ctx, t, {dryRun}) {
    const db = t.target
    const tools = await targetTools(ctx, db)
    // The client picked for this server (the image ships one per major): all of it must be there.
    for (const tool of [tools.psql, tools.pg_restore]) if (!ctx.exec.which(tool, ctx.env.PATH)) throw missingTool(tool, `restore database ${t.name}`)
    clientCanRestoreInto(t.name, tools, clientMajors(ctx.env))
    const exists = await ctx.exec.run(psqlSpec(db, tools, 'postgres', 'psql (database exists?)'), {stdin: {text: `\\set name ${psqlLiteral(db.database!)}\nSELECT 1 FROM pg_database WHERE datname = :'name';\n`}, signal: ctx.signal, timeoutMs: 60_000})
    if (exists.interrupted) throw new InterruptedError()
    if (exists.exitCode !== 0) throw unreachable(db, exists, ctx.redactor)
    if (exists.stdout.trim() !== '1') {
      if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'restore/target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
      // A drill creates its scratch database; a dry run asks whether it could.
      if (dryRun) return assertCanCreate(ctx, db, tools)
      await runChecked(ctx.exec, psqlSpec(db, tools, 'postgres', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE ${pgIdentifier(db.database!)};\n`}, signal: ctx.signal, redactor: ctx.redactor})
    }
    // A standby, a read-only default, or schemas this user cannot drop would fail the reset — or worse, half of it.
    const state = await ctx.exec.run(psqlSpec(db, tools, db.database, 'psql (can the database be reset?)'), {stdin: {text: POSTGRES_STATE_SQL + '\n'}, signal: ctx.signal, timeoutMs: 60_000})
    if (state.interrupted) throw new InterruptedError()
    if (state.exitCode !== 0) throw unreachable(db, state, ctx.redactor)
    const problem = parsePostgresState(state.stdout)
    if (problem) {
      throw new KamalBackupError(ctx.redactor.redact(`cannot restore PostgreSQL database "${t.name}" (${describeDatabase(db)}): ${problem}; nothing was changed`), {
        code: 'database/not-writable',
        suggestions: ["restore into the primary server, as a user that owns the database and its schemas (the app's own user usually does)"],
      })
    }
  },

  stagingSpace: () => [],

  async inspectDump(ctx, t, dump, {tableOfContents, check}) {
    const tools = await targetTools(ctx, t.target)
    // Reading the dump costs a repository open (key derivation and index: 0.3-0.9 s). The snapshot's tag says
    // which pg_dump wrote it; pg_restore reads archives of its own major and older ones.
    const tag = tableOfContents ? undefined : await pgRestoreReads(ctx, dump, tools)
    if (tag) {
      await check(`database ${t.name}: the dump's pg_dump (${tag}) is not newer than this pg_restore`, () => undefined)
      return undefined
    }
    const name = `database ${t.name}: pg_restore reads the dump`
    return check(name, () => probeDump(ctx, t, dump, tools), (tables) => `${name} (its table of contents lists ${tables} table${tables === 1 ? '' : 's'})`)
  },

  async restore(ctx, t, dump, {lockTimeoutSeconds: seconds, tablesInToc, countRows, mark}) {
    const db = t.target
    const tools = await targetTools(ctx, db)
    // The reset is one DO block, so one transaction: when the app's locks make it time out, nothing was dropped.
    const resetSpec = psqlSpec(db, tools, db.database, `reset ${db.database}`)
    const reset = await ctx.exec.run(resetSpec, {stdin: {text: `SET lock_timeout = '${seconds}s';\n${POSTGRES_RESET_SQL}\n`}, signal: ctx.signal})
    if (reset.interrupted) throw new InterruptedError()
    if (reset.exitCode !== 0) {
      if (/lock timeout/i.test(reset.stderr)) throw databaseInUse(t, seconds, false)
      throw new CommandFailedError(resetSpec, reset, ctx.redactor)
    }
    mark('partial', 'it was reset, and the dump was being loaded when the restore stopped: it holds part of the data, or none')
    // pg_restore --verbose names every table it creates, one per stderr line: collected as they go by (the tail
    // of stderr kept for errors would lose them on a large schema).
    const dumped = new Map<string, number | null>()
    let ignored = 0
    // A copy of the stream is read here, and each table's COPY rows counted (pg-archive.ts).
    const counter = new ArchiveRowCounter()
    const result = await ctx.exec.stream(dump.spec, pgRestoreSpec(db, tools, db.database!, seconds), {
      signal: ctx.signal,
      onConsumerStderrLine: (line) => {
        const table = tableFromPgRestoreLine(line)
        if (table) dumped.set(table, 0)
        ignored = Math.max(ignored, ignoredErrors(line))
      },
      tapSink: counter.sink(),
    })
    await checkStream(ctx, dump, result.producer, result.consumer)
    if (ignored > 0) throw new KamalBackupError(`pg_restore ignored ${ignored} errors: the database is only partly restored`, {code: 'restore/failed'})
    mark('restored')
    for (const [table, rows] of counter.rows) if (dumped.has(table)) dumped.set(table, rows)
    const restored = rowCounts((await runChecked(ctx.exec, psqlSpec(db, tools, db.database, 'count rows'), {stdin: {text: postgresRowCountsSql(countRows) + '\n'}, signal: ctx.signal, redactor: ctx.redactor})).stdout)
    return restoredTables(dumped, restored, countRows, {tables_in_toc: tablesInToc, ...(counter.problem && {rows_unknown: `the dump's rows could not be counted (${counter.problem})`})})
  },

  verify: () => [],
  dryRunLimits: () => [],

  /** The pg_dump a backup of the first database uses (the client matching its server), when the server answers;
   *  otherwise the newest client in the image, or the one on PATH. */
  /** pg_restore --list reads the whole archive's table of contents (and, for a custom-format dump, that it ends
   *  where the table of contents says). The newest client of the image when there is one, else PATH's. */
  async verifyDumpFile(ctx, file) {
    const majors = clientMajors(ctx.env)
    const pgRestore = majors.length > 0 ? join(ctx.env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT!, String(majors.at(-1)), 'bin', 'pg_restore') : ctx.exec.which('pg_restore', ctx.env.PATH)
    if (!pgRestore) throw missingVerifyTool('pg_restore')
    const listed = await ctx.exec.run({argv: [pgRestore, '--list', file], label: 'pg_restore --list'}, {signal: ctx.signal})
    if (listed.interrupted) throw new InterruptedError()
    if (listed.exitCode !== 0) throw unverifiedDump(file, 'pg_restore --list', ctx.redactor.redact(lastLines(listed.stderr, 3) || `exit ${listed.exitCode}`))
    const tables = listed.stdout.split('\n').reduce((n, line) => n + tocTableCount(line), 0)
    return `pg_restore --list: ${tables} table${tables === 1 ? '' : 's'}`
  },

  async versionCommands(ctx, databases) {
    let pgDump: string | undefined
    if (databases[0]) pgDump = await postgresTools(ctx.exec, databases[0], ctx.env, ctx.signal).then((tools) => tools.pg_dump, () => undefined)
    const majors = clientMajors(ctx.env)
    pgDump ??= majors.length > 0 ? join(ctx.env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT!, String(majors.at(-1)), 'bin', 'pg_dump') : 'pg_dump'
    return {pg_dump: [pgDump, '--version'] as Argv}
  },

  versionNotes(env) {
    const majors = clientMajors(env)
    return majors.length > 1 ? {pg_clients: majors.join(', ')} : ({} as Record<string, string>)
  },
}
