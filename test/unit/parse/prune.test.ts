import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {ErrorObject} from 'ajv'
import {pruneInvalid} from '../../../src/parse/prune.js'

const error = (instancePath: string, keyword: string, params: Record<string, unknown> = {}) => ({instancePath, keyword, params, schemaPath: '#'}) as ErrorObject

test('an unknown key is cut from its object; the rest of the object stays', () => {
  const data = {restic: {repository: 'r', repostory: 'x'}}
  const pruned = pruneInvalid(data, [error('/restic', 'additionalProperties', {additionalProperty: 'repostory'})])!
  assert.deepEqual(pruned.data, {restic: {repository: 'r'}})
  assert.deepEqual(pruned.paths, [['restic', 'repostory']])
  assert.deepEqual(data.restic, {repository: 'r', repostory: 'x'}, 'the document itself is not changed')
})

test('an error inside a list entry cuts the whole entry, leaving null so the other entries keep their indices', () => {
  const data = {databases: [{name: 'a', adapter: 'sqlit'}, {name: 'b', adapter: 'sqlite'}]}
  const pruned = pruneInvalid(data, [error('/databases/0/adapter', 'enum'), error('/databases/0', 'required', {missingProperty: 'url'})])!
  assert.deepEqual(pruned.data, {databases: [null, {name: 'b', adapter: 'sqlite'}]})
  assert.deepEqual(pruned.paths, [['databases', 0], ['databases', 0]])
})

test('a wrong value outside lists cuts that value; a missing required key is reported as cut, not its object', () => {
  const data = {backup: {schedule: 5, enabled: true}, restic: {repository: 'r'}}
  const pruned = pruneInvalid(data, [error('/backup/schedule', 'type'), error('/restic', 'required', {missingProperty: 'password'}), error('', 'required', {missingProperty: 'app'})])!
  assert.deepEqual(pruned.data, {backup: {enabled: true}, restic: {repository: 'r'}})
  assert.deepEqual(pruned.paths, [['backup', 'schedule'], ['restic', 'password'], ['app']])
})

test('a document that is not a mapping cannot be pruned', () => {
  assert.equal(pruneInvalid(['a'], [error('', 'type')]), undefined)
  assert.equal(pruneInvalid(null, [error('', 'type')]), undefined)
})
