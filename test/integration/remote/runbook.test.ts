// `kamal-backup runbook`: every command a generated runbook tells the on-call engineer to type is run, as written,
// against the lab — the built CLI here → the lab's sshd → the real accessory container (fixture.ts). Commands that
// read run for real (status, list, check, unlock, evidence); those that would change data get --dry-run, which
// parses them with the CLI's own parser and runs every check they run first. The placeholders (RUN_ID,
// SAFETY_RUN_ID, the example time) are replaced by a real run and the current time. Then --check: fresh, stale.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, lab, tempDir} from '../../support/lab.ts'
import {accessory, cli, remoteApp, type Container, type RemoteApp} from './fixture.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'

/** The shell words of a command line as the runbook writes them (POSIX quoting, no expansions). */
function words(line: string): string[] {
  const out: string[] = []
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g
  for (const m of line.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]!)
  return out
}

describe('runbook: every command in it runs against the lab', {concurrency: false}, () => {
  let app: RemoteApp
  let box: Container
  let runId: string

  before(async () => {
    const data = tempDir('runbook-data')
    mkdirSync(join(data, 'storage'), {recursive: true})
    writeFileSync(join(data, 'storage', 'upload.txt'), 'hello\n')
    execFileSync(lab().bins.sqlite3, [join(data, 'storage', 'production.sqlite3'), "CREATE TABLE t(v); INSERT INTO t VALUES ('x');"])
    execFileSync('chmod', ['-R', 'a+rwX', data])
    const repo = freshRepo('0.18')
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    // A second copy (restic.copies): the runbook says how to list and restore from it alone.
    const copy = join(data, 'copy')
    app = remoteApp({
      backupConfig: ['databases:', `  - {name: primary, adapter: sqlite, path: ${join(data, 'storage', 'production.sqlite3')}}`, 'paths:', `  - ${join(data, 'storage')}`, 'restic:', `  repository: ${repo}`, '  password: {secret: RESTIC_PASSWORD}', '  retention: {keep_last: 10}', '  copies:', `    - {name: offsite, repository: ${copy}, password: {secret: RESTIC_PASSWORD}, init_if_missing: true}`, `state: {path: ${join(data, 'state')}}`, 'backup: {enabled: false}', ''].join('\n'),
      destinations: {production: 'servers:\n  web:\n    - 127.0.0.1\n'},
    })
    box = accessory(app.containerName, {env: {RESTIC_PASSWORD: lab().resticPassword}, config: app.config})
    const backup = await cli(app, ['backup', '--force', '-d', 'production'])
    assert.equal(backup.code, 0, backup.stderr)
    runId = /backup run (\d{8}T\d{6}Z) ok/.exec(backup.stdout)![1]!
  })

  after(() => box?.remove())

  test('runbook -d production: each command, as typed, is accepted and does what it says', async () => {
    const written = await cli(app, ['runbook', '-d', 'production'])
    assert.equal(written.code, 0, written.stderr)
    const text = readFileSync(join(app.dir, 'RUNBOOK.md'), 'utf8')
    assert.match(text, new RegExp(`^# Restore runbook: ${app.app} \\(destination production\\)`, 'm'))
    assert.match(text, new RegExp(`\\| database \`primary\` \\| sqlite \\|`))
    assert.ok(!text.includes(lab().resticPassword), 'no secret value')
    const commands = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.trim().split('\n'))
    // Everything an incident needs is there, with the destination.
    for (const needed of ['status', 'list', 'restore production --dry-run', 'restore production --database primary', 'restore production --files', 'restore production --at', 'restore production RUN_ID', 'restore production SAFETY_RUN_ID --confirm', 'list --repository offsite', 'restore production --from offsite', 'drill production', 'drill local', 'unlock', 'check']) {
      assert.ok(commands.some((c) => c.startsWith(`kamal-backup ${needed}`)), `the runbook has kamal-backup ${needed}: ${commands.join(' | ')}`)
    }
    for (const c of commands.filter((x) => !x.startsWith('kamal-backup drill local'))) assert.match(c, / -d production( |$)/, c)

    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    for (const line of commands) {
      const argv = words(line.replace('SAFETY_RUN_ID', runId).replace('RUN_ID', runId).replace('2026-12-01T03:00:00Z', now)).slice(1)
      const changes = /^(restore|drill) (production|local)/.test(argv.slice(0, 2).join(' '))
      const args = changes && !argv.includes('--dry-run') ? [...argv, '--dry-run'] : argv
      const r = await cli(app, args, {env: {RESTIC_PASSWORD: lab().resticPassword}, timeoutMs: 120_000})
      if (argv[0] === 'drill' && argv[1] === 'local') {
        // This checkout has no config/kamal-backup.local.yml: the parser took the command; the local targets are missing.
        assert.notEqual(r.code, 2, `${args.join(' ')}: not a usage error\n${r.stderr}`)
        assert.match(r.stderr, /kamal-backup\.local\.yml/, `${args.join(' ')}: ${r.stderr}`)
        continue
      }
      assert.equal(r.code, 0, `kamal-backup ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
      if (argv[0] === 'list') assert.match(r.stdout, new RegExp(runId))
      if (changes && argv.includes(runId)) assert.match(r.stdout + r.stderr, new RegExp(runId), `${args.join(' ')} resolves the run it names`)
    }
  })

  test('--evidence: the drill the runbook describes, run for real, gives the recovery time it shows', async () => {
    assert.equal((await cli(app, ['runbook', '-d', 'production'])).code, 0)
    const before = readFileSync(join(app.dir, 'RUNBOOK.md'), 'utf8')
    assert.match(before, /Not measured in this copy/)
    const drillLine = [...before.matchAll(/^kamal-backup drill production .*$/gm)][0]![0]
    const drill = await cli(app, [...words(drillLine).slice(1), '--yes'], {timeoutMs: 180_000})
    assert.equal(drill.code, 0, drill.stdout + drill.stderr)
    const evidence = await cli(app, ['evidence', '-d', 'production', '--json'])
    assert.equal(evidence.code, 0, evidence.stderr)
    writeFileSync(join(app.dir, 'evidence.json'), evidence.stdout)
    const doc = JSON.parse(evidence.stdout)
    const measured = doc.restore_drills.recent[0]
    assert.equal(measured.status, 'ok')
    assert.equal((await cli(app, ['runbook', '-d', 'production', '--evidence', 'evidence.json'])).code, 0)
    const after = readFileSync(join(app.dir, 'RUNBOOK.md'), 'utf8')
    const seconds = `${(measured.duration_ms / 1000).toFixed(1)} s`
    assert.match(after, new RegExp(`Measured by the last 1 successful drills and restores \\(evidence of ${doc.generated_at}, \`evidence\\.json\`\\): \\*\\*${seconds.replace('.', '\\.')}\\*\\* \\(median\\)`))
    assert.match(after, new RegExp(`\\| ${measured.finished_at} \\| drill \\| production \\| ${runId} \\| ok \\| ${seconds.replace('.', '\\.')} \\|`))
    // The same evidence keeps --check quiet; another app's evidence is refused.
    assert.equal((await cli(app, ['runbook', '-d', 'production', '--evidence', 'evidence.json', '--check'])).code, 0)
    writeFileSync(join(app.dir, 'other.json'), JSON.stringify({...doc, app: 'someone-else'}))
    const other = await cli(app, ['runbook', '-d', 'production', '--evidence', 'other.json'])
    assert.equal(other.code, 2)
    assert.match(other.stderr, /it is the evidence of app someone-else/)
  })

  test('--check: fresh passes; a changed config makes it stale (exit 1, the diff); a missing file is said', async () => {
    assert.equal((await cli(app, ['runbook', '-d', 'production'])).code, 0)
    const fresh = await cli(app, ['runbook', '-d', 'production', '--check'])
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr)
    writeFileSync(app.config, readFileSync(app.config, 'utf8').replace('backup: {enabled: false}', 'backup: {enabled: false, schedule: 6h}'))
    const stale = await cli(app, ['runbook', '-d', 'production', '--check', '--json'])
    assert.equal(stale.code, 1)
    const json = JSON.parse(stale.stdout)
    assertMatchesSchema('runbook.schema.json', json)
    assert.match(json.stale, /^-Schedule: `1d` \(backups are disabled: backup\.enabled is false\)\.\n\+Schedule: `6h` \(backups are disabled: backup\.enabled is false\)\.$/m)
    const missing = await cli(app, ['runbook', '-d', 'production', '--check', '--out', 'docs/RUNBOOK.md'])
    assert.equal(missing.code, 1)
    assert.match(missing.stdout, /docs\/RUNBOOK\.md is missing: write it with kamal-backup runbook -d production --out docs\/RUNBOOK\.md/)
  })
})
