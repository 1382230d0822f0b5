// restic.copies: the config (normalised, each problem a finding at its line), which runs go to a copy, the proof
// that they arrived, a copy in the primary's place, and the argv/env of `restic copy` (no secret on argv, the
// source through RESTIC_FROM_*, both backends' settings in one process).
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {loadBackupConfig} from '../../../src/config/backup-config.ts'
import {missedRuns, proveCopied, withCopyAsPrimary} from '../../../src/engine/copies.ts'
import {appTags, groupRuns} from '../../../src/engine/runs.ts'
import {resticArgv, type ResticTarget} from '../../../src/restic/argv.ts'
import {Secret} from '../../../src/redact.ts'
import type {Snapshot} from '../../../src/restic/client.ts'
import {BACKUP, assertActionable, cleanupApps, makeApp, only, rules} from '../config/support.ts'

after(cleanupApps)

function load(copies: string, resticExtra = '') {
  const text = BACKUP.replace('  check_after_backup: true\n', `  check_after_backup: true\n${resticExtra}  copies:\n${copies}`)
  const dir = makeApp({'config/kamal-backup.yml': text})
  return loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir)
}

describe('restic.copies in config/kamal-backup.yml', () => {
  test('normalised: each copy reaches its repository with its own keys, and keeps its own retention', () => {
    const result = load('    - name: offsite\n      repository: {secret: COPY_REPOSITORY}\n      password: {secret: COPY_PASSWORD}\n      rest: {username: u, password: {secret: COPY_REST}}\n      init_if_missing: true\n      retention: {keep_monthly: 12}\n    - {name: usb, repository: /mnt/usb/restic, password: {file: /run/usb-password}}\n')
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.config!.restic.copies, [
      {name: 'offsite', repository: {kind: 'secret', name: 'COPY_REPOSITORY'}, password: {kind: 'secret', name: 'COPY_PASSWORD'}, rest: {username: {kind: 'value', value: 'u'}, password: {kind: 'secret', name: 'COPY_REST'}}, env: {}, options: [], initIfMissing: true, retention: {keepMonthly: 12}},
      {name: 'usb', repository: {kind: 'value', value: '/mnt/usb/restic'}, password: {kind: 'file', path: '/run/usb-password'}, env: {}, options: [], initIfMissing: false},
    ])
  })

  test('each problem is one finding at its line with a way out', () => {
    const cases: [string, string, string, RegExp][] = [
      ['    - {name: a, repository: /srv/a, password: {secret: P}}\n    - {name: a, repository: /srv/b, password: {secret: P}}\n', '', 'config/duplicate-copy', /used twice/],
      ['    - {name: a, repository: {secret: RESTIC_REPOSITORY}, password: {secret: P}}\n', '', 'config/copy-is-primary', /is the primary repository again/],
      ['    - {name: a, password: {secret: P}}\n', '', 'config/no-repository', /restic\.copies\[0\]\.repository is missing/],
      ['    - {name: a, repository: "rest:https://u:pw@host/repo", password: {secret: P}}\n', '', 'config/url-password', /contains a password/],
      ['    - {name: a, repository: relative/repo, password: {secret: P}}\n', '', 'config/relative-path', /neither a backend URL/],
      ['    - {name: a, repository: /srv/a, password: {secret: P}, retention: {keep_last: 0}}\n', '', 'config/retention-keeps-nothing', /keeps no snapshots/],
      ['    - {name: a, repository: /srv/a, password: {secret: P}, env: {AWS_ACCESS_KEY_ID: {secret: COPY_KEY}}}\n', '  env: {AWS_ACCESS_KEY_ID: {secret: AWS_ACCESS_KEY_ID}}\n', 'config/copy-backend-env', /one process with one environment/],
      ['    - {name: a, repository: /srv/a, password: {secret: P}, options: ["sftp.command=ssh b"]}\n', '  options: ["sftp.command=ssh a"]\n', 'config/copy-backend-env', /passes every -o option to both/],
      ['    - {name: a, repository: /srv/a, password: {secret: P}, env: {AWS_SECRET_ACCESS_KEY: literal}}\n', '', 'schema/literal-secret', /restic\.copies\[0\]\.env\.AWS_SECRET_ACCESS_KEY is a literal secret/],
    ]
    for (const [copies, extra, rule, message] of cases) {
      const f = only(load(copies, extra).findings, rule)
      assert.equal(f.severity, 'error', rule)
      assertActionable(f, {file: 'config/kamal-backup.yml'})
      assert.ok(f.line >= 13, `${rule} at the copy's line (13 or below), not the top of restic: ${f.line}`)
      assert.match(f.message, message)
    }
    // The same backend variable with the same value, and the same option, are fine.
    assert.deepEqual(rules(load('    - {name: a, repository: /srv/a, password: {secret: P}, env: {AWS_ACCESS_KEY_ID: {secret: AWS_ACCESS_KEY_ID}}, options: ["s3.region=x"]}\n', '  env: {AWS_ACCESS_KEY_ID: {secret: AWS_ACCESS_KEY_ID}}\n  options: ["s3.region=x"]\n').findings), [])
  })

  test('a copy in the primary\'s place: its own repository, password and retention; nothing copied onwards', () => {
    const config = load('    - {name: usb, repository: /mnt/usb, password: {secret: USB_PASSWORD}, retention: {keep_last: 3}}\n').config!
    const swapped = withCopyAsPrimary(config, 'usb')
    assert.deepEqual(swapped.restic.repository, {kind: 'value', value: '/mnt/usb'})
    assert.deepEqual(swapped.restic.password, {kind: 'secret', name: 'USB_PASSWORD'})
    assert.deepEqual(swapped.restic.retention, {keepLast: 3})
    assert.deepEqual(swapped.restic.copies, [])
    assert.equal(swapped.restic.checkAfterBackup, true)
    assert.throws(() => withCopyAsPrimary(config, 'nas'), /there is no copy named "nas"/)
  })
})

let n = 0
function snap(run: string, extra: Partial<Snapshot> = {}): Snapshot {
  n++
  const id = n.toString(16).padStart(8, '0') + 'c'.repeat(56)
  return {id, short_id: id.slice(0, 8), time: `${run.slice(0, 4)}-${run.slice(4, 6)}-${run.slice(6, 8)}T00:00:00Z`, hostname: 'kamal-backup-shop', paths: ['/x'], tags: [...appTags('shop'), `run:${run}`, 'type:database', 'database:main'], ...extra}
}

describe('which runs go to a copy', () => {
  const primary = [snap('20260101T000000Z'), snap('20260102T000000Z'), snap('20260103T000000Z'), snap('20260104T000000Z')]
  const runs = groupRuns(primary, ['database:main'])
  const copied = (s: Snapshot): Snapshot => ({...s, id: 'f'.repeat(64), original: s.id})

  test('the runs after the last one the copy got, newest first, other than the run being copied', () => {
    assert.deepEqual(missedRuns(runs, '20260101T000000Z', '20260104T000000Z').map((r) => r.id), ['20260103T000000Z', '20260102T000000Z'])
    assert.deepEqual(missedRuns(runs, '20260103T000000Z', '20260104T000000Z'), [])
  })

  test('incomplete runs, runs whose own check failed and safety backups are not sent', () => {
    const mixed = groupRuns([...primary, snap('20260102T120000Z', {tags: [...appTags('shop'), 'run:20260102T120000Z', 'type:database', 'database:other']})], ['database:main'])
    const flagged = mixed.map((r) => (r.id === '20260103T000000Z' ? {...r, checkFailed: true} : r.id === '20260102T000000Z' ? {...r, preRestore: true} : r))
    assert.deepEqual(missedRuns(flagged, '20260101T000000Z', '20260104T000000Z').map((r) => r.id), [])
  })

  test('proof: every sent snapshot is listed in the copy with its original id and run tag (restic 0.14 reports short ids)', () => {
    const wanted = runs.slice(0, 2)
    assert.doesNotThrow(() => proveCopied(wanted, [copied(primary[2]!), copied(primary[3]!)], 'usb'))
    const short = wanted.map((r) => ({id: r.id, snapshots: r.snapshots.map((s) => ({group: s.group, id: s.id.slice(0, 8)}))}))
    assert.doesNotThrow(() => proveCopied(short, [copied(primary[2]!), copied(primary[3]!)], 'usb'))
    assert.throws(() => proveCopied(wanted, [copied(primary[3]!)], 'usb'), (e: Error & {code?: string}) => e.code === 'copy/not-visible' && /does not list database:main of run 20260103T000000Z/.test(e.message))
    // The same original under another run's tag is not proof.
    const mislabelled = {...copied(primary[2]!), tags: [...appTags('shop'), 'run:20990101T000000Z']}
    assert.throws(() => proveCopied(wanted, [mislabelled, copied(primary[3]!)], 'usb'), /does not list/)
  })
})

describe('restic copy argv', () => {
  const copy: ResticTarget = {bin: 'restic', env: {RESTIC_REPOSITORY: new Secret('/mnt/usb'), RESTIC_PASSWORD: new Secret('copy-pw'), RESTIC_CACHE_DIR: '/state/cache'}, options: ['sftp.connections=2']}
  const primary: ResticTarget = {bin: 'restic', env: {RESTIC_REPOSITORY: new Secret('s3:https://s3/x'), RESTIC_PASSWORD: new Secret('primary-pw'), AWS_ACCESS_KEY_ID: new Secret('AKIA'), RESTIC_CACHE_DIR: '/state/cache'}, options: ['s3.storage-class=STANDARD_IA']}

  test('the copy is the repository, the primary comes through RESTIC_FROM_*, both backends in one process, nothing secret on argv', () => {
    const spec = resticArgv.copy(copy, primary, ['aaaa', 'bbbb'])
    assert.deepEqual(spec.argv, ['restic', '-o', 'sftp.connections=2', '-o', 's3.storage-class=STANDARD_IA', 'copy', 'aaaa', 'bbbb'])
    const env = spec.env!
    assert.equal((env.RESTIC_REPOSITORY as Secret).reveal(), '/mnt/usb')
    assert.equal((env.RESTIC_PASSWORD as Secret).reveal(), 'copy-pw')
    assert.equal((env.RESTIC_FROM_REPOSITORY as Secret).reveal(), 's3:https://s3/x')
    assert.equal((env.RESTIC_FROM_PASSWORD as Secret).reveal(), 'primary-pw')
    assert.equal((env.AWS_ACCESS_KEY_ID as Secret).reveal(), 'AKIA', "the primary's backend credentials reach the one process")
    assert.doesNotMatch(spec.argv.join(' '), /pw|AKIA|s3:https/)
    assert.deepEqual(resticArgv.initCopy(copy, primary).argv, ['restic', '-o', 'sftp.connections=2', '-o', 's3.storage-class=STANDARD_IA', 'init', '--copy-chunker-params'])
  })
})
