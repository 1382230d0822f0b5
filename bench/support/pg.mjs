// PostgreSQL helpers for the database benchmarks: the lab's superuser (password in PGPASSWORD, never on argv), a
// generated database of a given size that is kept between runs, and scratch databases.
import {join} from 'node:path'
import {labEnv, log, sh, timed} from '../lib.mjs'

export function lab() {
  const l = labEnv()
  if (!l) throw new Error('the test lab is not running (/tmp/kb-lab/env.json missing): start it with `bash test/lab/up.sh`')
  return l
}

export function pgBin(tool) {
  return join(lab().postgres.binDir, tool)
}

/** libpq settings for the superuser or the app user (kbapp, who owns the benchmark databases). */
export function pgEnv(as = 'superuser', database) {
  const pg = lab().postgres
  return {
    ...process.env,
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: as === 'app' ? pg.appUser : pg.superuser,
    PGPASSWORD: as === 'app' ? pg.appPassword : pg.superuserPassword,
    PGSSLMODE: 'disable',
    ...(database && {PGDATABASE: database}),
  }
}

export function psql(database, sql, as = 'superuser') {
  return sh(pgBin('psql'), ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', database, '-f', '-'], {env: pgEnv(as), input: sql})
}

export async function psqlAsync(database, sql, as = 'superuser') {
  const r = await timed(pgBin('psql'), ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', database, '-f', '-'], {env: pgEnv(as), input: sql})
  return r.stdout.trim()
}

export function databaseExists(name) {
  return psql('postgres', `SELECT 1 FROM pg_database WHERE datname = '${name}';`) === '1'
}

/** Drops (terminating leftover sessions) and creates an empty database owned by the app user. */
export function recreateDatabase(name) {
  psql('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid();`)
  psql('postgres', `DROP DATABASE IF EXISTS "${name}";`)
  psql('postgres', `CREATE DATABASE "${name}" OWNER "${lab().postgres.appUser}";`)
}

export function dropDatabase(name) {
  psql('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid();`)
  psql('postgres', `DROP DATABASE IF EXISTS "${name}";`)
}

const SCHEMA = `
CREATE TABLE bench_meta (target_mb int NOT NULL, ready boolean NOT NULL DEFAULT false, dump_bytes bigint, generated_seconds numeric);
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz NOT NULL, settings jsonb);
CREATE TABLE events (id bigserial PRIMARY KEY, user_id bigint NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL, payload text);
CREATE VIEW events_per_user AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id;
INSERT INTO users(email, name, created_at, settings)
  SELECT 'user' || g || '@example.com', 'User ' || g, now() - g * interval '1 minute',
         jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END, 'n', g)
  FROM generate_series(1, 100000) g;
`

/** ~238 bytes per events row on disk (heap, primary key and user_id index), measured on PostgreSQL 15. */
const BYTES_PER_EVENT = 238
const BATCH = 500_000

/**
 * The benchmark database of about `mb` MiB (pg_database_size): 100k users and N events rows with 4 md5 strings of
 * payload each (hex text: zstd compresses it about 2:1 and it does not deduplicate), two indexes and a view.
 * Named kb_bench_pg_<mb>; kept between runs (bench_meta.ready), regenerated if missing or incomplete.
 */
export async function ensureBenchDatabase(mb) {
  const name = `kb_bench_pg_${mb}`
  let ready = false
  if (databaseExists(name)) {
    try {
      ready = psql(name, 'SELECT ready FROM bench_meta;') === 't'
    } catch {}
  }
  let generatedSeconds = null
  if (!ready) {
    const started = Date.now()
    log(`generating ${name} (about ${mb} MiB; roughly 45 s per GiB here)`)
    recreateDatabase(name)
    psql(name, SCHEMA + `INSERT INTO bench_meta(target_mb) VALUES (${mb});`, 'app')
    const rows = Math.max(10_000, Math.round(((mb - 15) * 1048576) / BYTES_PER_EVENT))
    for (let done = 0; done < rows; done += BATCH) {
      const count = Math.min(BATCH, rows - done)
      await psqlAsync(
        name,
        `INSERT INTO events(user_id, kind, created_at, payload)
           SELECT 1 + (random() * 99999)::int, (ARRAY['view','click','signup','purchase'])[1 + floor(random() * 4)::int],
                  now() - random() * interval '365 days',
                  md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text)
           FROM generate_series(1, ${count});`,
        'app',
      )
      log(`  ${Math.min(done + count, rows)}/${rows} rows`)
    }
    await psqlAsync(name, 'CREATE INDEX events_user_id ON events(user_id); ANALYZE;', 'app')
    // The size of a custom-format, uncompressed dump (what both the CLI and the baseline stream into restic).
    const dump = await timed('bash', ['-o', 'pipefail', '-c', `"${pgBin('pg_dump')}" --format=custom --compress=0 --no-owner --no-privileges | wc -c`], {env: pgEnv('app', name)})
    generatedSeconds = (Date.now() - started) / 1000
    psql(name, `UPDATE bench_meta SET ready = true, dump_bytes = ${Number(dump.stdout.trim())}, generated_seconds = ${generatedSeconds};`, 'app')
    log(`generated ${name} in ${generatedSeconds.toFixed(0)} s`)
  }
  const [sizeBytes, dumpBytes, firstSeconds] = psql(name, `SELECT pg_database_size(current_database()), dump_bytes, generated_seconds FROM bench_meta;`).split('|').map(Number)
  return {name, mb, sizeBytes, dumpBytes, generatedSeconds, firstGeneratedSeconds: firstSeconds, cached: ready}
}
