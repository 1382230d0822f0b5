// The repository password and location from restic's other sources, on restic 0.14 and 0.18:
// `password: {command: …}` (RESTIC_PASSWORD_COMMAND), `password: {file: …}` and `repository_file`
// (RESTIC_REPOSITORY_FILE). A backup, the list and a restore work through them; a command that prints the wrong
// password is restic/wrong-password, not "no repository"; no output carries the password.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, lab, RESTIC_VERSIONS, tempDir} from '../../support/lab.ts'
import {assertNoSecret, cli, cliJson, writeApp} from './support.ts'

describe('password and repository from files and commands', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: password command and repository_file, then password file`, async () => {
      const dir = tempDir(`sources-${version}`)
      const files = join(dir, 'files')
      mkdirSync(files)
      writeFileSync(join(files, 'a.txt'), 'backed up\n')
      const repo = freshRepo(version)
      const repoFile = join(dir, 'repository')
      writeFileSync(repoFile, repo + '\n')
      const pwFile = join(dir, 'password')
      writeFileSync(pwFile, lab().resticPassword + '\n')
      chmodSync(pwFile, 0o600)
      const byCommand = writeApp({version, repo, prefix: `sources-${version}`, paths: [`  - ${files}`], restic: [`repository_file: ${repoFile}`, `password: {command: "cat ${pwFile}"}`], env: {RESTIC_PASSWORD: undefined}})
      const outputs: string[] = []
      const backup = await cli(byCommand, ['backup', '--force'])
      outputs.push(backup.stdout + backup.stderr)
      assert.equal(backup.code, 0, backup.stderr)
      const {result, json} = await cliJson(byCommand, ['list'])
      outputs.push(result.stdout + result.stderr)
      assert.equal(json.length, 1)
      assert.equal(json[0].complete, true)
      writeFileSync(join(files, 'a.txt'), 'changed\n')
      const restore = await cli(byCommand, ['restore', 'production', '--confirm', byCommand.name, '--no-safety-backup'])
      outputs.push(restore.stdout + restore.stderr)
      assert.equal(restore.code, 0, restore.stderr)
      assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'backed up\n')

      // The same app (its config rewritten): the password from a file.
      const withPassword = (password: string) => writeFileSync(byCommand.config, readFileSync(byCommand.config, 'utf8').replace(/^ {2}password: .*$/m, `  password: ${password}`))
      withPassword(`{file: ${pwFile}}`)
      const listed = await cliJson(byCommand, ['list'])
      assert.equal(listed.result.code, 0, listed.result.stderr)
      assert.equal(listed.json.length, 1)

      withPassword('{command: "echo not-the-password"}')
      const refused = await cli(byCommand, ['list', '--json'])
      outputs.push(refused.stdout + refused.stderr)
      assert.equal(refused.code, 1)
      assert.match(refused.stdout, /restic\/wrong-password/)
      for (const [i, text] of outputs.entries()) assertNoSecret(`output ${i}`, text, [lab().resticPassword])
    })
  }
})
