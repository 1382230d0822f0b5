// replaceFile: the one way a file is replaced whole (hooks, generated files, init --force, the HTML report, the
// metrics textfile): the new content, the mode asked for whatever the umask, no temporary file left, and on a
// failure the old file untouched.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {replaceFile} from '../../src/files.ts'

describe('replaceFile', () => {
  test('new content and the mode asked for (an executable hook stays executable under umask 077); nothing else left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-files-'))
    const file = join(dir, 'pre-deploy')
    writeFileSync(file, 'old\n')
    const umask = process.umask(0o077)
    try {
      replaceFile(file, 'new\n', {mode: 0o755})
    } finally {
      process.umask(umask)
    }
    assert.equal(readFileSync(file, 'utf8'), 'new\n')
    assert.equal(statSync(file).mode & 0o777, 0o755)
    assert.deepEqual(readdirSync(dir), ['pre-deploy'])
  })

  test('a failure leaves the old file as it was and no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-files-'))
    const target = join(dir, 'report.html')
    mkdirSync(target) // a directory where the file should go: the rename fails
    assert.throws(() => replaceFile(target, '<html>'), /EISDIR|ENOTDIR|EEXIST|EPERM/)
    assert.ok(statSync(target).isDirectory())
    assert.deepEqual(readdirSync(dir), ['report.html'])
  })
})
