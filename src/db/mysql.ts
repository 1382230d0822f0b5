// MySQL / MariaDB: mariadb-dump (else mysqldump) in one consistent transaction, password through MYSQL_PWD.
// Restored by dropping every object of the target database (after waiting for the app's locks) and streaming the
// dump into the client, with a scanner on a copy of the stream naming the tables it creates.
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import {credentialFile, DUMP_INHERITS, mysqlOptionContent} from './credentials.js'
import {InterruptedError, KamalBackupError} from '../errors.js'
import {runChecked, type Executor} from '../exec/executor.js'
import {CommandFailedError, lastLines} from '../exec/local.js'
import type {Argv, CommandSpec} from '../exec/spec.js'
import type {Secret} from '../redact.js'
import {checkStream, databaseInUse, lines, missingTool, restoredTables, rowCounts, unreachable, unverifiedDump, type DatabaseAdapter} from './adapter.js'
import {describeDatabase, serverUrl, type ResolvedDatabase} from './connection.js'
import {DATABASE_KINDS} from '../config/types.js'

/** The last statement mysqldump writes when the dump ended (write_footer), with or without comments. */
const MYSQL_FOOTER = /^\/\*!40111 SET SQL_NOTES=@OLD_SQL_NOTES \*\/;$/

/** The last `bytes` of a file, as text. */
function fileTail(file: string, bytes: number): string {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    const length = Math.min(bytes, size)
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, size - length)
    return buffer.toString('utf8')
  } finally {
    closeSync(fd)
  }
}

export interface MysqlTools {
  dump: string
}

/** What a backup needs: the dump tool only (a restore finds its client with mysqlClient()). */
export function mysqlTools(executor: Executor, env: NodeJS.ProcessEnv): MysqlTools {
  const dump = env.KAMAL_BACKUP_MYSQL_DUMP ?? executor.which('mariadb-dump', env.PATH) ?? executor.which('mysqldump', env.PATH)
  if (!dump) {
    throw new KamalBackupError('neither mariadb-dump nor mysqldump is installed', {code: 'exec/not-found', suggestions: ['install the MariaDB client (the accessory image ships it)']})
  }
  return {dump}
}

export function mysqlEnv(db: ResolvedDatabase): Record<string, string | Secret | undefined> {
  return {MYSQL_PWD: db.password, MYSQL_HOST: undefined, MYSQL_TCP_PORT: undefined, MYSQL_UNIX_PORT: undefined}
}

/** Connection flags: host, port and user are not secret; --no-defaults keeps option files from interfering.
 *  `tool`: the client or dump program (MariaDB's and MySQL's spell "no TLS" differently). */
export function mysqlConnectionArgs(db: ResolvedDatabase, tool = 'mariadb'): string[] {
  const args: string[] = []
  if (db.host) args.push(`--host=${db.host}`, '--protocol=TCP')
  if (db.port !== undefined) args.push(`--port=${db.port}`)
  if (db.user) args.push(`--user=${db.user}`)
  const ssl = db.params['ssl-mode'] ?? db.params.sslmode ?? db.params.ssl_mode
  if (ssl && /^(required|verify_ca|verify_identity|true|1)$/i.test(ssl)) args.push('--ssl')
  // MariaDB's 11.4+ clients (the accessory image's) require TLS unless told not to: a server without TLS (MariaDB
  // 10.x as usually run beside an app) then refuses every dump with "SSL is required, but the server does not support it".
  if (ssl && /^(disabled?|false|0|off)$/i.test(ssl)) args.push(/mysql(dump)?$/.test(tool.split('/').pop() ?? '') ? '--ssl-mode=DISABLED' : '--skip-ssl')
  return args
}

/** The dump with only its own settings: the password from `optionFile` (--defaults-file, which also means no other
 *  option file is read, like --no-defaults), never MYSQL_PWD (see credentials.ts). */
export function mysqlDumpSpec(db: ResolvedDatabase, tools: MysqlTools, optionFile?: string): CommandSpec {
  return {
    argv: [
      tools.dump,
      optionFile ? `--defaults-file=${optionFile}` : '--no-defaults',
      ...mysqlConnectionArgs(db, tools.dump),
      '--single-transaction',
      '--quick',
      '--routines',
      '--triggers',
      '--events',
      '--skip-comments',
      '--no-tablespaces',
      '--hex-blob',
      '--default-character-set=utf8mb4',
      '--',
      db.database!,
    ],
    env: {...mysqlEnv(db), MYSQL_PWD: undefined},
    inheritEnv: DUMP_INHERITS,
    label: `${tools.dump.split('/').pop()} ${db.name}`,
  }
}

// ---- restore ------------------------------------------------------------------------------------------------

/** The client a restore needs (KAMAL_BACKUP_MYSQL_CLIENT, else mariadb, else mysql), if installed. */
export function mysqlClient(executor: Executor, env: NodeJS.ProcessEnv): string | undefined {
  return env.KAMAL_BACKUP_MYSQL_CLIENT ?? executor.which('mariadb', env.PATH) ?? executor.which('mysql', env.PATH)
}

export function mysqlClientSpec(db: ResolvedDatabase, client: string, database: string, label: string, extra: string[] = []): CommandSpec {
  return {argv: [client, '--no-defaults', ...mysqlConnectionArgs(db, client), '--default-character-set=utf8mb4', ...extra, '--', database], env: mysqlEnv(db), label}
}

/** read_only / super_read_only (MySQL only; SHOW works on both servers). */
export const MYSQL_READ_ONLY_SQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only');`

/** The variable that makes the server read-only, from MYSQL_READ_ONLY_SQL's output. */
export function mysqlReadOnly(output: string): string | undefined {
  for (const line of output.split('\n')) {
    const [name, value] = line.trim().split('\t')
    if (name && /^(ON|1)$/i.test(value ?? '')) return name.toLowerCase()
  }
  return undefined
}

function inventoryObjects(inventory: string): {type: string; name: string}[] {
  return inventory
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((parts): parts is [string, string] => parts.length === 2 && DROP_ORDER.includes(parts[0]!))
    .map(([type, hex]) => ({type, name: Buffer.from(hex, 'hex').toString('utf8')}))
}

const quoteName = (name: string) => '`' + name.replace(/`/g, '``') + '`'

/** LOCK TABLES on every base table, then UNLOCK: waits (at most lock_wait_timeout) for the app's open
 *  transactions, and fails before anything was dropped when they do not end. Undefined without tables. */
export function mysqlLockProbe(inventory: string): string | undefined {
  const tables = inventoryObjects(inventory).filter((o) => o.type === 'TABLE')
  if (tables.length === 0) return undefined
  return `LOCK TABLES ${tables.map((t) => `${quoteName(t.name)} WRITE`).join(', ')};\nUNLOCK TABLES;\n`
}

/** Everything in the target database, names hex-encoded so any character survives the round trip. */
export const MYSQL_INVENTORY_SQL = `SELECT 'VIEW', HEX(TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL SELECT IF(TABLE_TYPE = 'SEQUENCE', 'SEQUENCE', 'TABLE'), HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE')
UNION ALL SELECT ROUTINE_TYPE, HEX(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
UNION ALL SELECT 'EVENT', HEX(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE();`

const DROP_ORDER = ['VIEW', 'TABLE', 'SEQUENCE', 'PROCEDURE', 'FUNCTION', 'EVENT']

/** DROP statements for the inventory (views first; foreign keys off), so the dump lands in an empty database. */
export function mysqlDropStatements(inventory: string): string {
  const objects = inventoryObjects(inventory)
  objects.sort((a, b) => DROP_ORDER.indexOf(a.type) - DROP_ORDER.indexOf(b.type))
  return ['SET FOREIGN_KEY_CHECKS=0;', ...objects.map((o) => `DROP ${o.type} IF EXISTS ${quoteName(o.name)};`), 'SET FOREIGN_KEY_CHECKS=1;'].join('\n') + '\n'
}

export const MYSQL_TABLES_SQL = `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1;`

/** The scanner on the dump stream (the stream's named pipe is appended): the tables a mariadb-dump file creates,
 *  and each INSERT (one per line: a table with rows has at least one; they hold many rows each, so the count of
 *  rows is not read). */
export const MYSQL_TABLE_SCANNER: CommandSpec = {argv: ['grep', '-a', '-o', '-E', '^(CREATE TABLE|INSERT INTO) `([^`]|``)+`'], label: 'scan dump for tables', inheritEnv: ['PATH']}

/** Adds one scanner line to the dump's tables: 0 rows when created, null ("some") once an INSERT names it. */
export function scanDumpLine(tables: Map<string, number | null>, line: string): void {
  const match = /^(CREATE TABLE|INSERT INTO) `(.+)`$/.exec(line)
  if (!match) return
  const table = match[2]!.replace(/``/g, '`')
  if (match[1] === 'INSERT INTO') tables.set(table, null)
  else if (!tables.has(table)) tables.set(table, 0)
}

export function tablesFromScanner(output: string): string[] {
  const tables = new Map<string, number | null>()
  for (const line of output.split('\n')) scanDumpLine(tables, line)
  return [...tables.keys()].sort()
}

/** `<rows> <table>` for each table named: one statement. Without `count`, each is probed for one row (0 or 1). */
export function mysqlRowCountsSql(tables: readonly string[], count: boolean): string {
  const from = (t: string) => (count ? `\`${t.replace(/`/g, '``')}\`` : `(SELECT 1 FROM \`${t.replace(/`/g, '``')}\` LIMIT 1) AS one`)
  return tables.map((t) => `SELECT CONCAT(COUNT(*), ' ', ${sqlLiteral(t)}) FROM ${from(t)}`).join('\nUNION ALL ') + ';\n'
}

// ---- the adapter ------------------------------------------------------------------------------------------------

/** A string literal for the SQL the client reads. */
function sqlLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

export const mysql: DatabaseAdapter = {
  kind: 'mysql',
  location: DATABASE_KINDS.mysql.location,
  extension: 'sql',
  preflightTitle: 'reachable and writable',
  localExample: 'url: ...',

  files: () => [],
  connectionUrl: (db) => serverUrl('mysql2', db),

  checkSource: () => {},

  async dump(ctx, db, {scratchDir}) {
    const tools = mysqlTools(ctx.exec, ctx.env)
    const options = db.password ? credentialFile(scratchDir, 'my.cnf', mysqlOptionContent(db.password)) : undefined
    return {kind: 'stream', spec: mysqlDumpSpec(db, tools, options?.path), tags: [], ...(options && {cleanup: options.remove})}
  },

  assertRestoreTools(ctx, t) {
    if (!mysqlClient(ctx.exec, ctx.env)) throw missingTool('mariadb (or mysql)', `restore database ${t.name}`)
  },

  async preflight(ctx, t, {dryRun}) {
    const db = t.target
    const client = mysqlClient(ctx.exec, ctx.env)!
    const probe = await ctx.exec.run(mysqlClientSpec({...db}, client, 'information_schema', 'mariadb (database exists?)', ['--batch', '--skip-column-names']), {stdin: {text: `SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(db.database!)};\n`}, signal: ctx.signal, timeoutMs: 60_000})
    if (probe.interrupted) throw new InterruptedError()
    if (probe.exitCode !== 0) throw unreachable(db, probe, ctx.redactor)
    const missing = probe.stdout.trim() !== '1'
    if (missing) {
      if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'restore/target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
      // A dry run does not create the drill's scratch database (whether it may is left to the drill).
      if (!dryRun) await runChecked(ctx.exec, mysqlClientSpec(db, client, 'information_schema', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE \`${db.database!.replace(/`/g, '``')}\`;\n`}, signal: ctx.signal, redactor: ctx.redactor})
    }
    const readOnly = await ctx.exec.run(mysqlClientSpec(db, client, missing && dryRun ? 'information_schema' : db.database!, 'mariadb (read-only?)', ['--batch', '--skip-column-names']), {stdin: {text: MYSQL_READ_ONLY_SQL + '\n'}, signal: ctx.signal, timeoutMs: 60_000})
    if (readOnly.interrupted) throw new InterruptedError()
    if (readOnly.exitCode !== 0) throw unreachable(db, readOnly, ctx.redactor)
    const variable = mysqlReadOnly(readOnly.stdout)
    if (variable) {
      throw new KamalBackupError(ctx.redactor.redact(`cannot restore MySQL database "${t.name}" (${describeDatabase(db)}): the server is read-only (@@${variable} is ON; a replica?); nothing was changed`), {
        code: 'database/not-writable',
        suggestions: ['restore into the primary server'],
      })
    }
  },

  stagingSpace: () => [],

  async restore(ctx, t, dump, {lockTimeoutSeconds: seconds, countRows, mark}) {
    const db = t.target
    const client = mysqlClient(ctx.exec, ctx.env)!
    const spec = (label: string, extra: string[] = []) => mysqlClientSpec(db, client, db.database!, label, extra)
    const init = [`--init-command=SET SESSION lock_wait_timeout = ${seconds}`]
    const inventory = await runChecked(ctx.exec, spec('list objects', ['--batch', '--skip-column-names', '--raw']), {stdin: {text: MYSQL_INVENTORY_SQL + '\n'}, signal: ctx.signal, redactor: ctx.redactor})
    // Wait for the app's open transactions (at most the lock timeout) before the first DROP: DDL is not
    // transactional in MySQL, so a DROP stuck half-way would leave the database half-reset.
    const probeSql = mysqlLockProbe(inventory.stdout)
    if (probeSql) {
      const probe = await ctx.exec.run(spec(`lock ${db.database}`, init), {stdin: {text: probeSql}, signal: ctx.signal})
      if (probe.interrupted) throw new InterruptedError()
      if (probe.exitCode !== 0) {
        if (/lock wait timeout/i.test(probe.stderr)) throw databaseInUse(t, seconds, false)
        // Without the LOCK TABLES privilege the probe cannot tell; the DROPs still time out.
        if (!/denied/i.test(probe.stderr)) throw new CommandFailedError(spec(`lock ${db.database}`), probe, ctx.redactor)
      }
    }
    mark('partial', 'its objects were being dropped when the restore stopped')
    const drop = await ctx.exec.run(spec(`reset ${db.database}`, init), {stdin: {text: mysqlDropStatements(inventory.stdout)}, signal: ctx.signal})
    if (drop.interrupted) throw new InterruptedError()
    if (drop.exitCode !== 0) {
      if (/lock wait timeout/i.test(drop.stderr)) throw databaseInUse(t, seconds, true)
      throw new CommandFailedError(spec(`reset ${db.database}`), drop, ctx.redactor)
    }
    mark('partial', 'it was reset, and the dump was being loaded when the restore stopped: it holds part of the data, or none')
    const dumped = new Map<string, number | null>()
    const result = await ctx.exec.stream(dump.spec, spec(`restore ${db.database}`, init), {signal: ctx.signal, tap: MYSQL_TABLE_SCANNER, onTapLine: (line) => scanDumpLine(dumped, line)})
    await checkStream(ctx, dump, result.producer, result.consumer)
    if (result.tee && result.tee.exitCode !== 0) throw new KamalBackupError(`tee failed while restoring: ${lastLines(result.tee.stderr, 3)}`, {code: 'restore/failed'})
    mark('restored')
    // grep exits 1 when nothing matched (an empty dump); 2 is its failure.
    const scanner = result.tap && (result.tap.exitCode ?? 2) > 1 ? result.tap : undefined
    const query = (label: string, sql: string) => runChecked(ctx.exec, spec(label, ['--batch', '--skip-column-names', '--raw']), {stdin: {text: sql}, signal: ctx.signal, redactor: ctx.redactor})
    const tables = lines((await query('list tables', MYSQL_TABLES_SQL + '\n')).stdout)
    const restored = tables.length > 0 ? rowCounts((await query('count rows', mysqlRowCountsSql(tables, countRows))).stdout) : new Map<string, number | null>()
    return restoredTables(dumped, restored, countRows, scanner ? {rows_unknown: `scanning the dump failed (exit ${scanner.exitCode ?? scanner.signal}): ${lastLines(scanner.stderr, 3)}`} : {})
  },

  verify: () => [],
  dryRunLimits: (scope) => (scope === 'production' ? ['a scratch MySQL database that does not exist yet is not created: whether this user may create it is seen only then'] : []),

  /** A dump that ended: mysqldump's last lines are its completion trailer (`-- Dump completed on ...`) or, with
   *  --skip-comments as kamal-backup dumps, the footer that restores the session's SQL_NOTES. No tool needed. */
  async verifyDumpFile(_ctx, file) {
    const tail = fileTail(file, 4096).trimEnd()
    const last = tail.slice(tail.lastIndexOf('\n') + 1)
    if (/^-- Dump completed/.test(last) || MYSQL_FOOTER.test(last)) return `ends with ${last.startsWith('--') ? 'the completion trailer' : 'the dump footer'}`
    throw unverifiedDump(file, 'the MySQL dump check', `it does not end with mysqldump's completion trailer (-- Dump completed) or footer; its last line is ${JSON.stringify(last.slice(0, 120))}: it was cut short`)
  },

  async versionCommands(ctx) {
    return {mysql_dump: [ctx.env.KAMAL_BACKUP_MYSQL_DUMP ?? ctx.exec.which('mariadb-dump', ctx.env.PATH) ?? 'mysqldump', '--version'] as Argv}
  },
}
