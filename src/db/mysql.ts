// MySQL / MariaDB: mariadb-dump (else mysqldump) in one consistent transaction, password through MYSQL_PWD.
import {KamalBackupError} from '../errors.js'
import {findExecutable} from '../exec/local.js'
import type {CommandSpec} from '../exec/spec.js'
import type {Secret} from '../redact.js'
import type {ResolvedDatabase} from './connection.js'

export interface MysqlTools {
  dump: string
}

/** What a backup needs: the dump tool only (a restore finds its client with mysqlClient()). */
export function mysqlTools(env: NodeJS.ProcessEnv): MysqlTools {
  const dump = env.KAMAL_BACKUP_MYSQL_DUMP ?? findExecutable('mariadb-dump', env.PATH) ?? findExecutable('mysqldump', env.PATH)
  if (!dump) {
    throw new KamalBackupError('neither mariadb-dump nor mysqldump is installed', {code: 'command-not-found', suggestions: ['install the MariaDB client (the accessory image ships it)']})
  }
  return {dump}
}

export function mysqlEnv(db: ResolvedDatabase): Record<string, string | Secret | undefined> {
  return {MYSQL_PWD: db.password, MYSQL_HOST: undefined, MYSQL_TCP_PORT: undefined, MYSQL_UNIX_PORT: undefined}
}

/** Connection flags: host, port and user are not secret; --no-defaults keeps option files from interfering. */
export function mysqlConnectionArgs(db: ResolvedDatabase): string[] {
  const args: string[] = []
  if (db.host) args.push(`--host=${db.host}`, '--protocol=TCP')
  if (db.port !== undefined) args.push(`--port=${db.port}`)
  if (db.user) args.push(`--user=${db.user}`)
  const ssl = db.params['ssl-mode'] ?? db.params.sslmode ?? db.params.ssl_mode
  if (ssl && /^(required|verify_ca|verify_identity|true|1)$/i.test(ssl)) args.push('--ssl')
  return args
}

export function mysqlDumpSpec(db: ResolvedDatabase, tools: MysqlTools): CommandSpec {
  return {
    argv: [
      tools.dump,
      '--no-defaults',
      ...mysqlConnectionArgs(db),
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
    env: mysqlEnv(db),
    label: `${tools.dump.split('/').pop()} ${db.name}`,
  }
}

// ---- restore ------------------------------------------------------------------------------------------------

/** The client a restore needs (KAMAL_BACKUP_MYSQL_CLIENT, else mariadb, else mysql), if installed. */
export function mysqlClient(env: NodeJS.ProcessEnv): string | undefined {
  return env.KAMAL_BACKUP_MYSQL_CLIENT ?? findExecutable('mariadb', env.PATH) ?? findExecutable('mysql', env.PATH)
}

export function mysqlClientSpec(db: ResolvedDatabase, client: string, database: string, label: string, extra: string[] = []): CommandSpec {
  return {argv: [client, '--no-defaults', ...mysqlConnectionArgs(db), '--default-character-set=utf8mb4', ...extra, '--', database], env: mysqlEnv(db), label}
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

/** The scanner on the dump stream (the stream's named pipe is appended): the tables a mariadb-dump file creates. */
export const MYSQL_TABLE_SCANNER: CommandSpec = {argv: ['grep', '-a', '-o', '-E', '^CREATE TABLE `([^`]|``)+`'], label: 'scan dump for tables'}

export function tablesFromScanner(output: string): string[] {
  return [...new Set(output.split('\n').filter(Boolean).map((l) => l.replace(/^CREATE TABLE `/, '').replace(/`$/, '').replace(/``/g, '`')))].sort()
}
