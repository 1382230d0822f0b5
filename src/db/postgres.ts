// PostgreSQL: connection through PG* environment variables (nothing secret on argv), the client matching the
// server's major version (pg_dump refuses servers newer than itself), custom-format dumps.
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {KamalBackupError} from '../errors.js'
import {lastLines, runProcess} from '../exec/local.js'
import type {CommandSpec} from '../exec/spec.js'
import type {Secret} from '../redact.js'
import type {ResolvedDatabase} from './connection.js'

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
export async function clientMajor(tools: PostgresTools, tool: 'pg_dump' | 'pg_restore', signal?: AbortSignal): Promise<number | undefined> {
  if (tools.major !== undefined) return tools.major
  const result = await runProcess({argv: [tools[tool], '--version'], label: `${tool} --version`}, {processGroup: true, timeoutMs: 10_000, ...(signal && {signal})})
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(result.stdout)
  return result.exitCode === 0 && match ? Number(match[1]) : undefined
}

/** Clients under KAMAL_BACKUP_POSTGRES_CLIENT_ROOT/<major>/bin (the image), else from PATH. */
export async function postgresTools(db: ResolvedDatabase, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<PostgresTools> {
  const root = env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT
  const majors = root && existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'pg_dump'))).map(Number).sort((a, b) => a - b) : []
  if (majors.length === 0) return {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'}
  const newest = majors.at(-1)!
  const probe = await runProcess(
    {argv: [join(root!, String(newest), 'bin', 'psql'), '-X', '-A', '-t', '-c', 'SHOW server_version_num'], env: postgresEnv(db), label: 'psql (server version)'},
    signal ? {signal, timeoutMs: 30_000} : {timeoutMs: 30_000},
  )
  const number = Number(probe.stdout.trim())
  if (probe.exitCode !== 0 || !Number.isFinite(number) || number <= 0) {
    throw new KamalBackupError(`cannot connect to PostgreSQL database "${db.name}": ${lastLines(probe.stderr, 3) || 'no answer'}`, {
      code: 'database-unreachable',
      suggestions: ['check the database URL, password and that the server is reachable from the accessory'],
    })
  }
  const serverMajor = Math.floor(number / 10_000)
  // pg_dump works against its own major and older servers: take the oldest client that is new enough.
  const major = majors.find((m) => m >= serverMajor)
  if (major === undefined) {
    throw new KamalBackupError(`PostgreSQL ${serverMajor} is newer than every client in this image (${majors.join(', ')})`, {
      code: 'postgres-client',
      suggestions: ['upgrade the kamal-backup accessory image to a release that ships this PostgreSQL version'],
    })
  }
  const bin = (tool: string) => join(root!, String(major), 'bin', tool)
  return {pg_dump: bin('pg_dump'), pg_restore: bin('pg_restore'), psql: bin('psql'), serverMajor, major}
}

/** Custom format, uncompressed: restic deduplicates across runs and compresses with zstd itself. */
export function pgDumpSpec(db: ResolvedDatabase, tools: PostgresTools): CommandSpec {
  return {
    argv: [tools.pg_dump, '--format=custom', '--compress=0', '--no-owner', '--no-privileges'],
    env: postgresEnv(db),
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

export const POSTGRES_TABLES_SQL = `SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;`

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
