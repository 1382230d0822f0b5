// Resolving a configured database (src/db/connection.ts): a URL split into its parts, and its password kept out
// of them and registered for redaction.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {resolveDatabase} from '../../../src/db/connection.ts'
import {environmentSecrets} from '../../../src/config/resolve.ts'
import {Redactor} from '../../../src/redact.ts'

describe('database dump commands', () => {
  test('a database URL is split into parts; its password is registered for redaction and kept out of the parts', () => {
    const redactor = new Redactor()
    const db = resolveDatabase({name: 'main', adapter: 'postgres', url: {kind: 'value', value: 'postgres://app:s%40cret-pw@db.internal:6432/app%20prod?sslmode=verify-full'}}, environmentSecrets({}), redactor)
    assert.equal(db.host, 'db.internal')
    assert.equal(db.port, 6432)
    assert.equal(db.user, 'app')
    assert.equal(db.database, 'app prod')
    assert.equal(db.params.sslmode, 'verify-full')
    assert.equal(db.password?.reveal(), 's@cret-pw')
    assert.equal(redactor.redact('failed for s@cret-pw and s%40cret-pw'), 'failed for [REDACTED] and [REDACTED]')
    const fromSecret = resolveDatabase({name: 'main', adapter: 'postgres', url: {kind: 'value', value: 'postgres://app@db/app'}, password: {kind: 'secret', name: 'DB_PW'}}, environmentSecrets({DB_PW: 'from-env-pw'}), redactor)
    assert.equal(fromSecret.password?.reveal(), 'from-env-pw')
    assert.equal(redactor.redact('from-env-pw'), '[REDACTED]')
  })
})
