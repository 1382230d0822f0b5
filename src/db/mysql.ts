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
