// MySQL / MariaDB: mariadb-dump (else mysqldump) in one consistent transaction, password through MYSQL_PWD.
import {KamalBackupError} from '../errors.js'
import {findExecutable} from '../exec/local.js'
import type {CommandSpec} from '../exec/spec.js'
import type {Secret} from '../redact.js'
import type {ResolvedDatabase} from './connection.js'

export interface MysqlTools {
  dump: string
  client: string
}

export function mysqlTools(env: NodeJS.ProcessEnv): MysqlTools {
  const dump = env.KAMAL_BACKUP_MYSQL_DUMP ?? findExecutable('mariadb-dump', env.PATH) ?? findExecutable('mysqldump', env.PATH)
  const client = env.KAMAL_BACKUP_MYSQL_CLIENT ?? findExecutable('mariadb', env.PATH) ?? findExecutable('mysql', env.PATH)
  if (!dump || !client) {
    throw new KamalBackupError('neither mariadb-dump nor mysqldump is installed', {code: 'command-not-found', suggestions: ['install the MariaDB client (the accessory image ships it)']})
  }
  return {dump, client}
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

export function mysqlClientSpec(db: ResolvedDatabase, tools: MysqlTools, database: string, label: string, extra: string[] = []): CommandSpec {
  return {argv: [tools.client, '--no-defaults', ...mysqlConnectionArgs(db), '--default-character-set=utf8mb4', ...extra, '--', database], env: mysqlEnv(db), label}
}

/** Everything in the target database, names hex-encoded so any character survives the round trip. */
export const MYSQL_INVENTORY_SQL = `SELECT 'VIEW', HEX(TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL SELECT IF(TABLE_TYPE = 'SEQUENCE', 'SEQUENCE', 'TABLE'), HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE')
UNION ALL SELECT ROUTINE_TYPE, HEX(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
UNION ALL SELECT 'EVENT', HEX(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE();`

const DROP_ORDER = ['VIEW', 'TABLE', 'SEQUENCE', 'PROCEDURE', 'FUNCTION', 'EVENT']

/** DROP statements for the inventory (views first; foreign keys off), so the dump lands in an empty database. */
export function mysqlDropStatements(inventory: string): string {
  const objects = inventory
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((parts): parts is [string, string] => parts.length === 2 && DROP_ORDER.includes(parts[0]!))
    .map(([type, hex]) => ({type, name: Buffer.from(hex, 'hex').toString('utf8')}))
  objects.sort((a, b) => DROP_ORDER.indexOf(a.type) - DROP_ORDER.indexOf(b.type))
  const quote = (name: string) => '`' + name.replace(/`/g, '``') + '`'
  return ['SET FOREIGN_KEY_CHECKS=0;', ...objects.map((o) => `DROP ${o.type} IF EXISTS ${quote(o.name)};`), 'SET FOREIGN_KEY_CHECKS=1;'].join('\n') + '\n'
}

export const MYSQL_TABLES_SQL = `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1;`

/** The scanner on the dump stream (the stream's named pipe is appended): the tables a mariadb-dump file creates. */
export const MYSQL_TABLE_SCANNER: CommandSpec = {argv: ['grep', '-a', '-o', '-E', '^CREATE TABLE `([^`]|``)+`'], label: 'scan dump for tables'}

export function tablesFromScanner(output: string): string[] {
  return [...new Set(output.split('\n').filter(Boolean).map((l) => l.replace(/^CREATE TABLE `/, '').replace(/`$/, '').replace(/``/g, '`')))].sort()
}
