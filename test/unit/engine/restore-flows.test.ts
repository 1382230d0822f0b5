// The restore flows' undo command (src/engine/restore-flows.ts): from the safety run, with the -c/-d and the
// limits of the restore it undoes. A pure function.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {undoCommand} from '../../../src/engine/restore-flows.ts'

describe('undo command', () => {
  const all = {databases: ['primary', 'queue'], pathsConfigured: true}
  test('from the safety run, with -c/-d from the accessory environment, and the restore\'s own limits', () => {
    assert.equal(undoCommand('shop', '20261122T031000Z', {}, {databases: ['primary', 'queue'], files: true}, all), 'kamal-backup restore production 20261122T031000Z --confirm shop')
    assert.equal(undoCommand('shop', 'R', {destination: 'staging', configFile: 'config/deploy.eu.yml'}, {databases: ['primary', 'queue'], files: true}, all), 'kamal-backup restore production R --confirm shop -c config/deploy.eu.yml -d staging')
    assert.equal(undoCommand('shop', 'R', {destination: 'production'}, {databases: ['primary'], files: false}, all), 'kamal-backup restore production R --confirm shop -d production --database primary')
    assert.equal(undoCommand('shop', 'R', {}, {databases: ['primary', 'queue'], files: false}, all), 'kamal-backup restore production R --confirm shop --no-files')
    assert.equal(undoCommand('shop', 'R', {}, {databases: [], files: true}, all), 'kamal-backup restore production R --confirm shop --files')
    assert.equal(undoCommand('shop', 'R', {}, {databases: ['queue'], files: true}, all), 'kamal-backup restore production R --confirm shop --database queue --files')
    assert.equal(undoCommand('shop', 'R', {local: true, backupConfig: '/x/kamal backup.yml'}, {databases: ['primary', 'queue'], files: true}, all), "kamal-backup restore production R --confirm shop --local --backup-config '/x/kamal backup.yml'")
  })
})
