// A drill of a MariaDB database, on restic 0.14 and 0.18: the scratch database is created by the drill, every
// table of the dump is verified there, the check reaches it through the variables it gets, and the source is
// untouched.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createMariaDatabase, dropMariaDatabase, freshRepo, mariadb, RESTIC_VERSIONS, uniqueName, type TestDatabase} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, mariaDatabaseLine, writeApp} from '../engine/support.ts'

describe('drill production with MariaDB', {concurrency: true}, () => {
  const made: string[] = []
  after(async () => {
    for (const name of made) await dropMariaDatabase(name).catch(() => {})
  })

  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: the scratch database is created, every table verified, the check runs against it`, async () => {
      const my: TestDatabase = await createMariaDatabase()
      made.push(my.name)
      await mariadb(my.name, "CREATE TABLE users (id INT PRIMARY KEY, email TEXT); INSERT INTO users SELECT seq, CONCAT('u', seq) FROM seq_1_to_300; CREATE TABLE posts (id INT); CREATE VIEW user_count AS SELECT COUNT(*) AS n FROM users;")
      const repo = freshRepo(version)
      const app = writeApp({version, repo, databases: [mariaDatabaseLine('shop', my)], restic: [`repository: ${repo}`, 'password: {secret: RESTIC_PASSWORD}']})
      const backup = await cli(app, ['backup', '--force'])
      assert.equal(backup.code, 0, backup.stderr)

      const scratch = uniqueName('kbs_drill')
      made.push(scratch)
      // mysql2://user:password@host:port/database, taken apart with the shell's own expansions.
      const check = [
        'u=${KAMAL_BACKUP_DRILL_SHOP_URL#*://}; cred=${u%%@*}; rest=${u#*@}; hostport=${rest%%/*}',
        'mariadb --no-defaults --batch --skip-column-names -h "${hostport%:*}" -P "${hostport##*:}" -u "${cred%%:*}" -p"${cred#*:}" -e "SELECT COUNT(*) FROM users" "${rest#*/}"',
      ].join('; ')
      const {result, json} = await cliJson(app, ['drill', 'production', '--database', scratch, '--check', check, '--yes'])
      assert.equal(result.code, 0, result.stderr)
      assertSchema('drill', json)
      assert.equal(json.verification.passed, true)
      const shop = json.databases.find((d: {name: string}) => d.name === 'shop')
      assert.ok(shop.tables_in_dump.includes('users') && shop.tables_in_dump.includes('posts'), JSON.stringify(shop))
      assert.deepEqual([...shop.tables_restored].sort(), [...shop.tables_in_dump].sort(), 'every table of the dump is in the scratch database')
      assert.deepEqual(shop.missing_tables, [])
      assert.equal(await mariadb(scratch, 'SELECT COUNT(*) FROM users'), '300', 'the scratch database holds the rows')
      assert.match(json.verification.check.output, /^300$/m, 'the check counted the scratch rows')
      assert.equal(await mariadb(my.name, 'SELECT COUNT(*) FROM users'), '300', 'the source is untouched')
    })
  }
})
