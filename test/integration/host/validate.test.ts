// validate in host mode (no config/deploy.yml): this host's directories and SQLite files, named volumes of the lab's
// real podman, and a systemd timer read by systemd's own calendar parser (systemd-analyze). CI (set) skips the host
// checks, --host-checks forces them; --timer checks a given timer file anywhere.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb, kbJson} from '../../support/cli.ts'
import {run, tempDir, uniqueName} from '../../support/lab.ts'

const volumes: string[] = []
after(async () => {
  for (const v of volumes) await run('podman', ['volume', 'rm', '-f', v])
})

function hostApp(lines: string[]): {dir: string; config: string; validate: (args?: string[], env?: Record<string, string | undefined>) => Promise<{result: Awaited<ReturnType<typeof kb>>; json: any}>} {
  const dir = tempDir('host-validate')
  const config = join(dir, 'kamal-backup.yml')
  writeFileSync(config, ['app: hostapp', ...lines, 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}, check_after_backup: true}'].join('\n') + '\n')
  return {dir, config, validate: (args = [], env = {}) => kbJson(['validate', '--backup-config', config, ...args], {cwd: dir, env: {CI: undefined, ...env}})}
}

const rulesOf = (json: {findings: {rule: string}[]}) => json.findings.map((f) => f.rule)

describe('validate on a host outside Kamal', {concurrency: true}, () => {
  test('a directory or SQLite file that is not there is an error at its line; CI skips the host, --host-checks forces it', async () => {
    const dir = tempDir('host-paths')
    const a = hostApp(['databases:', `  - {name: main, adapter: sqlite, path: ${join(dir, 'missing.sqlite3')}}`, 'paths:', `  - ${dir}`, `  - {path: ${dir}-nope}`])
    const {result, json} = await a.validate()
    assert.equal(result.code, 1)
    assert.deepEqual(json.findings.map((f: {rule: string; line: number}) => [f.rule, f.line]), [['host/path-missing', 3], ['host/path-missing', 6]])
    assert.match(json.findings[1].message, /nope is not a directory on this host/)
    assert.match(json.findings[1].suggestion, /--no-host-checks/)
    const ci = await a.validate([], {CI: 'true'})
    assert.equal(ci.result.code, 0, 'CI is not the host')
    assert.equal(rulesOf(ci.json).length, 0)
    assert.equal((await a.validate(['--host-checks'], {CI: 'true'})).result.code, 1)
    assert.equal((await a.validate(['--no-host-checks'])).result.code, 0)
    mkdirSync(`${dir}-nope`)
    writeFileSync(join(dir, 'missing.sqlite3'), '')
    assert.equal((await a.validate()).result.code, 0)
  })

  test('a volume podman does not have is an error; one it has is fine', async () => {
    const name = uniqueName('kbvval')
    const a = hostApp(['paths:', `  - {volume: ${name}, runtime: podman}`])
    const {result, json} = await a.validate()
    assert.equal(result.code, 1)
    assert.deepEqual(rulesOf(json), ['host/volume-missing'])
    assert.equal(json.findings[0].line, 3)
    assert.match(json.findings[0].message, new RegExp(`volume ${name} does not exist in podman on this host`))
    assert.equal((await run('podman', ['volume', 'create', name])).code, 0)
    volumes.push(name)
    const ok = await a.validate()
    assert.equal(ok.result.code, 0, JSON.stringify(ok.json.findings))
  })

  test('a timer whose calendar is not backup.schedule is an error at its OnCalendar= line; equal calendars written otherwise pass', async () => {
    const dir = tempDir('host-timer')
    const cases: {schedule: string; calendar: string[]; agrees: boolean}[] = [
      {schedule: '0 3 * * *', calendar: ['*-*-* 03:00:00 UTC'], agrees: true},
      {schedule: '0 3 * * *', calendar: ['03:00 UTC'], agrees: true}, // systemd's short form of the same
      {schedule: '0 3 * * *', calendar: ['*-*-* 04:00:00 UTC'], agrees: false},
      {schedule: '1d', calendar: ['*-*-* 02:30:00 UTC'], agrees: true}, // an interval: as often, at any time of day
      {schedule: '6h', calendar: ['*-*-* 02:30:00 UTC'], agrees: false},
      {schedule: '0 3 1,15 * 1', calendar: ['*-*-01,15 03:00:00 UTC', 'Mon *-*-* 03:00:00 UTC'], agrees: true}, // cron's either-day rule
      {schedule: '0 3 1,15 * 1', calendar: ['Mon *-*-01,15 03:00:00 UTC'], agrees: false}, // both days: not cron's rule
      {schedule: '0 3 * * *', calendar: ['every day at three'], agrees: false}, // systemd cannot parse it
    ]
    for (const [index, c] of cases.entries()) {
      const timer = join(dir, `t${index}.timer`)
      writeFileSync(timer, ['# a hand-written timer', '[Unit]', 'Description=x', '', '[Timer]', ...c.calendar.map((x) => `OnCalendar=${x}`), 'Persistent=true', ''].join('\n'))
      const a = hostApp([`paths: [${dir}]`, `backup: {schedule: "${c.schedule}"}`])
      const {json} = await a.validate(['--timer', timer])
      const found = json.findings.filter((f: {rule: string}) => f.rule === 'host/timer-schedule')
      assert.equal(found.length, c.agrees ? 0 : 1, `${c.schedule} vs ${c.calendar.join(' + ')}: ${JSON.stringify(found)}`)
      if (!c.agrees) {
        assert.equal(found[0].line, 6)
        assert.match(found[0].suggestion, /kamal-backup generate systemd/)
      }
    }
  })

  test('the timer generate writes agrees with the schedule it came from, in CI too (--timer without host checks)', async () => {
    const dir = tempDir('host-generated-timer')
    const a = hostApp([`paths: [${dir}]`, 'backup: {schedule: 6h}'])
    const out = join(a.dir, 'units')
    assert.equal((await kb(['generate', 'systemd', '--out', out, '--backup-config', a.config], {cwd: a.dir})).code, 0)
    const ci = await a.validate(['--timer', join(out, 'kamal-backup-hostapp.timer')], {CI: 'true'})
    assert.equal(ci.result.code, 0, JSON.stringify(ci.json.findings))
    assert.ok(ci.json.files.includes('units/kamal-backup-hostapp.timer'))
    writeFileSync(a.config, (await import('node:fs')).readFileSync(a.config, 'utf8').replace('schedule: 6h', 'schedule: 1h'))
    const stale = await a.validate(['--timer', join(out, 'kamal-backup-hostapp.timer')], {CI: 'true'})
    assert.equal(stale.result.code, 1)
    assert.deepEqual(rulesOf(stale.json), ['host/timer-schedule'])
    assert.equal(stale.json.findings[0].file, 'units/kamal-backup-hostapp.timer')
  })
})
