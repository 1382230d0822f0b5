// Restores and drills from every remote backend of the lab, on restic 0.14 and 0.18: a REST server without and
// with credentials (0.14 takes them only in the URL, which stays in the environment), S3 over HTTPS with the lab's
// CA, and SFTP through OpenSSH. Each backs up a SQLite database and a directory, changes both, restores production
// (the data as backed up), then drills into scratch targets; no output carries a credential.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {lab, prepareRepo, RESTIC_VERSIONS, run, tempDir, type Backend} from '../../support/lab.ts'
import {assertNoSecret, cli, cliJson, writeApp} from '../engine/support.ts'

const BACKENDS: Backend[] = ['rest', 'rest-auth', 's3', 'sftp']
const sqlite = async (db: string, sql: string) => (await run(lab().bins.sqlite3, [db, sql])).stdout.trim()

describe('restores and drills from each backend', {concurrency: 4}, () => {
  for (const backend of BACKENDS) {
    for (const version of RESTIC_VERSIONS) {
      test(`${backend} on restic ${version}`, async () => {
        const l = lab()
        const target = await prepareRepo(backend, version)
        const env: Record<string, string> = {}
        let restic: string[]
        if (backend === 'rest-auth') {
          restic = [`repository: ${target.repositoryWithoutCredentials}`, 'rest: {username: kbrest, password: {secret: REST_PASSWORD}}']
          env.REST_PASSWORD = l.rest.auth.password
        } else if (backend === 's3') {
          // restic 0.14 ignores RESTIC_CACERT (only --cacert); Go's SSL_CERT_FILE works on both (measured).
          const ca = version === '0.14' ? `SSL_CERT_FILE: ${l.s3.caCert}` : `RESTIC_CACERT: ${l.s3.caCert}`
          restic = [`repository: ${target.repository}`, `env: {AWS_ACCESS_KEY_ID: {secret: S3_KEY}, AWS_SECRET_ACCESS_KEY: {secret: S3_SECRET}, ${ca}}`]
          env.S3_KEY = l.s3.accessKeyId
          env.S3_SECRET = l.s3.secretAccessKey
        } else if (backend === 'sftp') {
          restic = [`repository: ${target.repository}`, `options: [${JSON.stringify(target.args[1])}]`]
        } else {
          restic = [`repository: ${target.repository}`]
        }
        const dir = tempDir(`backend-${backend}-${version}`)
        const files = join(dir, 'storage')
        mkdirSync(files)
        mkdirSync(join(dir, 'db'))
        const db = join(dir, 'db', 'production.sqlite3')
        await sqlite(db, "CREATE TABLE users(name); INSERT INTO users VALUES ('ada'), ('grace');")
        writeFileSync(join(files, 'upload.txt'), 'backed up\n')
        const app = writeApp({version, repo: target, databases: [`  - {name: primary, adapter: sqlite, path: ${db}}`], paths: [`  - ${files}`], restic: [...restic, 'password: {secret: RESTIC_PASSWORD}'], env})
        const outputs: string[] = []
        const step = async (args: string[]) => {
          const r = await cli(app, args)
          outputs.push(r.stdout + r.stderr)
          assert.equal(r.code, 0, `${args.join(' ')}:\n${r.stdout}\n${r.stderr}`)
          return r
        }
        await step(['backup', '--force'])
        await sqlite(db, "INSERT INTO users VALUES ('after the backup');")
        writeFileSync(join(files, 'upload.txt'), 'changed\n')

        await step(['restore', 'production', '--confirm', app.name])
        assert.equal(await sqlite(db, 'SELECT count(*) FROM users'), '2')
        assert.equal(readFileSync(join(files, 'upload.txt'), 'utf8'), 'backed up\n')

        const drill = await cliJson(app, ['drill', 'production', '--sqlite-path', join(dir, 'drill.sqlite3'), '--files', join(dir, 'drill-files'), '--yes'])
        outputs.push(drill.result.stdout + drill.result.stderr)
        assert.equal(drill.result.code, 0, drill.result.stderr)
        assert.equal(drill.json.verification.passed, true)
        assert.equal(await sqlite(join(dir, 'drill.sqlite3'), 'SELECT count(*) FROM users'), '2')
        assert.equal(readFileSync(join(dir, 'drill-files', 'upload.txt'), 'utf8'), 'backed up\n')

        const secrets = [l.resticPassword, l.rest.auth.password, l.s3.secretAccessKey, ...(target.repository.includes('@') ? [target.repository] : [])]
        for (const [i, text] of outputs.entries()) assertNoSecret(`output ${i}`, text, secrets)
      })
    }
  }
})
