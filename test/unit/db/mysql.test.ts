// The MySQL/MariaDB adapter's pure parts (src/db/mysql.ts): which dump tool, the mariadb-dump command with the
// password only in MYSQL_PWD, and the reset's statements (drops, lock probe, read_only) built from an inventory.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ResolvedDatabase} from '../../../src/db/connection.ts'
import {mysqlConnectionArgs, mysqlDropStatements, mysqlDumpSpec, mysqlEnv, mysqlLockProbe, mysqlReadOnly, mysqlTools} from '../../../src/db/mysql.ts'
import {localExecutor} from '../../../src/exec/executor.ts'
import type {CommandSpec} from '../../../src/exec/spec.ts'
import {childEnvironment} from '../../../src/exec/spec.ts'
import {Secret} from '../../../src/redact.ts'

function noSecretOnArgv(spec: CommandSpec, secrets: string[]) {
  for (const arg of spec.argv) for (const s of secrets) assert.ok(!arg.includes(s), `argv ${JSON.stringify(arg)} contains a secret`)
}

const my: ResolvedDatabase = {name: 'shop', adapter: 'mysql', host: 'mysql', port: 3306, user: 'app', database: 'shop-db', params: {'ssl-mode': 'REQUIRED'}, password: new Secret('my-secret-pw')}

describe('database dump commands', () => {
  test('a backup needs only the dump tool, not the mariadb/mysql client', () => {
    const bin = mkdtempSync(join(tmpdir(), 'kb-mysql-bin-'))
    try {
      writeFileSync(join(bin, 'mysqldump'), '#!/bin/sh\n', {mode: 0o755})
      assert.deepEqual(mysqlTools(localExecutor, {PATH: bin}), {dump: join(bin, 'mysqldump')})
      assert.throws(() => mysqlTools(localExecutor, {PATH: join(bin, 'none')}), /neither mariadb-dump nor mysqldump is installed/)
    } finally {
      rmSync(bin, {recursive: true, force: true})
    }
  })

  test('mariadb-dump: one consistent transaction with routines, triggers and events; the password in an option file', () => {
    const withFile = mysqlDumpSpec(my, {dump: '/usr/bin/mariadb-dump'}, '/state/tmp/credentials-1/my.cnf')
    assert.equal(withFile.argv[1], '--defaults-file=/state/tmp/credentials-1/my.cnf', 'only that option file is read (it must come first)')
    assert.equal(childEnvironment(withFile, {MYSQL_PWD: 'inherited', RESTIC_PASSWORD: 'r', PATH: '/usr/bin'}).MYSQL_PWD, undefined)
    assert.equal(childEnvironment(withFile, {RESTIC_PASSWORD: 'r'}).RESTIC_PASSWORD, undefined, 'nothing of the repository')
    const spec = mysqlDumpSpec(my, {dump: '/usr/bin/mariadb-dump'})
    for (const flag of ['--no-defaults', '--single-transaction', '--quick', '--routines', '--triggers', '--events', '--host=mysql', '--port=3306', '--user=app', '--protocol=TCP', '--ssl']) assert.ok(spec.argv.includes(flag), flag)
    assert.deepEqual(spec.argv.slice(-2), ['--', 'shop-db'], 'the database name cannot be read as a flag')
    assert.equal(spec.argv[1], '--no-defaults', 'option files are ignored (it must come first)')
    noSecretOnArgv(spec, ['my-secret-pw'])
    noSecretOnArgv(withFile, ['my-secret-pw'])
    assert.equal(childEnvironment(spec, {MYSQL_HOST: 'x'}).MYSQL_PWD, undefined)
    assert.equal(childEnvironment(spec, {MYSQL_HOST: 'x'}).MYSQL_HOST, undefined)
    assert.deepEqual(mysqlConnectionArgs({...my, params: {}}).includes('--ssl'), false)
    // ssl-mode=DISABLED: a server without TLS, which MariaDB 11.4+ clients refuse unless told.
    for (const value of ['DISABLED', 'disable', 'false', '0']) {
      assert.ok(mysqlConnectionArgs({...my, params: {'ssl-mode': value}}, '/usr/bin/mariadb-dump').includes('--skip-ssl'), value)
      assert.ok(mysqlConnectionArgs({...my, params: {sslmode: value}}, '/usr/bin/mysqldump').includes('--ssl-mode=DISABLED'), value)
    }
    assert.ok(!mysqlConnectionArgs({...my, params: {}}, 'mariadb').some((a) => /ssl/.test(a)), 'nothing said: the client decides')
    assert.deepEqual(Object.keys(mysqlEnv(my)).sort(), ['MYSQL_HOST', 'MYSQL_PWD', 'MYSQL_TCP_PORT', 'MYSQL_UNIX_PORT'])
  })
})

describe('MySQL reset statements', () => {
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase()
  const inventory = [`EVENT\t${hex('nightly')}`, `TABLE\t${hex('users')}`, `VIEW\t${hex('totals')}`, `SEQUENCE\t${hex('ids')}`, `PROCEDURE\t${hex('add_user')}`, `FUNCTION\t${hex('dbl')}`, `TABLE\t${hex('we`ird ünïcode')}`, 'garbage line', ''].join('\n')

  test('every object is dropped, views first, names quoted with doubled backticks, foreign keys off around it', () => {
    assert.equal(
      mysqlDropStatements(inventory),
      [
        'SET FOREIGN_KEY_CHECKS=0;',
        'DROP VIEW IF EXISTS `totals`;',
        'DROP TABLE IF EXISTS `users`;',
        'DROP TABLE IF EXISTS `we``ird ünïcode`;',
        'DROP SEQUENCE IF EXISTS `ids`;',
        'DROP PROCEDURE IF EXISTS `add_user`;',
        'DROP FUNCTION IF EXISTS `dbl`;',
        'DROP EVENT IF EXISTS `nightly`;',
        'SET FOREIGN_KEY_CHECKS=1;',
        '',
      ].join('\n'),
    )
    assert.equal(mysqlDropStatements(''), 'SET FOREIGN_KEY_CHECKS=0;\nSET FOREIGN_KEY_CHECKS=1;\n')
  })

  test('the lock probe locks every base table, and nothing when there are none', () => {
    assert.equal(mysqlLockProbe(inventory), 'LOCK TABLES `users` WRITE, `we``ird ünïcode` WRITE;\nUNLOCK TABLES;\n')
    assert.equal(mysqlLockProbe(`VIEW\t${hex('v')}\n`), undefined)
  })

  test('read_only and super_read_only', () => {
    assert.equal(mysqlReadOnly('read_only\tOFF\n'), undefined)
    assert.equal(mysqlReadOnly('read_only\tON\nsuper_read_only\tOFF\n'), 'read_only')
    assert.equal(mysqlReadOnly('read_only\tOFF\nsuper_read_only\tON\n'), 'super_read_only')
  })
})
