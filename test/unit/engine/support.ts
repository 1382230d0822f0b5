// Helpers for the engine and CLI rule tests: throw-away directories, and the KamalBackupError a piece of work throws.
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {KamalBackupError} from '../../../src/errors.ts'

export function temp(): string {
  return mkdtempSync(join(tmpdir(), 'kb-engine-'))
}

export function errorOf(work: () => unknown): KamalBackupError {
  try {
    work()
  } catch (error) {
    assert.ok(error instanceof KamalBackupError, String(error))
    return error
  }
  assert.fail('expected an error')
}
