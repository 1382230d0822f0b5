// The redactor (src/redact.ts) and repository locations: only the credentials in a repository URL are hidden, and
// a location used as the repository stays readable even when it was registered whole.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {Redactor, REDACTED} from '../../src/redact.ts'

describe('redaction of repository locations', () => {
  test('RESTIC_REPOSITORY (a secret-looking name) registers only the credentials in it', () => {
    const r = new Redactor().addEnvironment({RESTIC_REPOSITORY: 'rest:https://backup:s3cr3t-pw@backup.example.com:8000/app', OTHER_SECRET: 'plain-secret-value'})
    assert.equal(r.redact('rest:https://backup.example.com:8000/app'), 'rest:https://backup.example.com:8000/app')
    assert.equal(r.redact('password s3cr3t-pw and plain-secret-value'), `password ${REDACTED} and ${REDACTED}`)
    assert.equal(new Redactor().addEnvironment({RESTIC_REPOSITORY: 's3:https://s3.example.com/bucket?token=tok-123456'}).redact('tok-123456'), REDACTED)
  })

  test('a value used as the repository is shown, even when it was registered whole', () => {
    const location = 'sftp:backup@host.example:/srv/restic/app'
    const r = new Redactor().add(location)
    assert.equal(r.redact(location), REDACTED)
    r.addRepository(location)
    assert.equal(r.redact(location), location)
    const withPassword = 'rest:https://u:pa55word-x@h.example/r'
    assert.equal(new Redactor().add(withPassword).addRepository(withPassword).redact(`at ${withPassword}, pw pa55word-x`), `at rest:https://${REDACTED}@h.example/r, pw ${REDACTED}`)
  })
})
