// The README's copy-paste CI job and its `kamal` aliases, taken from README.md as written: the job's `run:` line is
// run with sh in a copy of examples/sample-app, CI=true and no secret in the environment (`npx kamal-backup` is
// the built CLI here: a stand-in `npx` on PATH runs bin/run.js, the rest of the line is the README's); the aliases
// snippet is added to the sample app's deploy.yml and validated.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {BIN, ROOT, ensureBuilt, kb} from '../../support/cli.ts'

const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The README's ```yaml blocks. */
function yamlBlocks(): string[] {
  return [...README.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
}

function sampleApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-ci-'))
  cpSync(join(ROOT, 'examples', 'sample-app'), join(dir, 'app'), {recursive: true})
  return join(dir, 'app')
}

/** `npx` for the job's line: `npx kamal-backup ARGS` runs the built CLI; anything else fails loudly. */
function npxShim(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-npx-'))
  mkdirSync(join(dir, 'bin'))
  writeFileSync(join(dir, 'bin', 'npx'), `#!/bin/sh\n[ "$1" = kamal-backup ] || { echo "npx: unexpected package $1" >&2; exit 127; }\nshift\nexec "${process.execPath}" "${BIN}" "$@"\n`, {mode: 0o755})
  return join(dir, 'bin')
}

/** A CI runner's environment: CI and GITHUB_ACTIONS set, no RESTIC_* or other secrets. */
function runLine(line: string, cwd: string): {code: number | null; stdout: string; stderr: string} {
  ensureBuilt()
  const r = spawnSync('sh', ['-c', line], {cwd, encoding: 'utf8', env: {PATH: `${npxShim()}:/usr/bin:/bin`, HOME: tmpdir(), CI: 'true', GITHUB_ACTIONS: 'true'}})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe('validate in CI: the README job', () => {
  const job = yamlBlocks().map((text) => parse(text) as {jobs?: Record<string, {steps: {uses?: string; run?: string; with?: Record<string, unknown>}[]}>}).find((doc) => doc?.jobs?.validate)
  const steps = job?.jobs?.validate?.steps ?? []
  const line = steps.find((s) => s.run)?.run ?? ''

  test('a GitHub Actions job: checkout, setup-node, then validate --format github --skip-secrets', () => {
    assert.ok(job, 'README has a GitHub Actions job with a validate job')
    assert.match(steps[0]?.uses ?? '', /^actions\/checkout@v\d+$/)
    assert.match(steps[1]?.uses ?? '', /^actions\/setup-node@v\d+$/)
    assert.ok(Number(steps[1]?.with?.['node-version']) >= 20, 'a Node the package supports')
    assert.equal(line, 'npx kamal-backup validate --format github --skip-secrets')
  })

  test('its run line on the sample app: exit 0 with CI=true and no secrets', () => {
    const r = runLine(line, sampleApp())
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stdout, 'kamal-backup: valid (0 errors, 0 warnings)\n')
  })

  test('secrets from variables the job has not got, and a warning: exit 0, the warning as a GitHub annotation', () => {
    const app = sampleApp()
    const secrets = join(app, '.kamal', 'secrets')
    writeFileSync(secrets, readFileSync(secrets, 'utf8').replace(/^RESTIC_PASSWORD=.*$/m, 'RESTIC_PASSWORD=$RESTIC_PASSWORD').replace(/^RESTIC_REPOSITORY=.*$/m, 'RESTIC_REPOSITORY=$RESTIC_REPOSITORY'))
    const deploy = join(app, 'config', 'deploy.yml')
    const text = readFileSync(deploy, 'utf8')
    assert.ok(text.includes('      - "sample_backup_state:/var/lib/kamal-backup"\n'))
    writeFileSync(deploy, text.replace('      - "sample_backup_state:/var/lib/kamal-backup"\n', ''))
    const r = runLine(line, app)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^::warning file=config\/deploy\.yml,line=\d+,col=\d+,title=kamal-backup kamal\/state-not-mounted::/)
    assert.equal(lines[1], 'kamal-backup: valid (0 errors, 1 warning)')
    assert.equal(lines.length, 2)
    // Without --skip-secrets the same job fails, and each finding says how to run validate in CI.
    const without = runLine(line.replace(' --skip-secrets', ''), app)
    assert.equal(without.code, 1)
    const errors = without.stdout.split('\n').filter((l) => l.startsWith('::error'))
    assert.equal(errors.length, 2, without.stdout)
    for (const [i, name] of ['RESTIC_REPOSITORY', 'RESTIC_PASSWORD'].entries()) {
      assert.match(errors[i]!, new RegExp(`^::error file=\\.kamal/secrets,line=\\d+,col=1,title=kamal-backup kamal/secret-empty::secret ${name} .* it comes from \\$${name}, which is not set in this environment\\. in CI, run \`kamal-backup validate --skip-secrets\``))
    }
  })
})

describe('Kamal aliases: the README snippet', () => {
  const snippet = yamlBlocks().find((text) => /^aliases:/m.test(text)) ?? ''
  const aliases = (parse(snippet) as {aliases?: Record<string, string>} | null)?.aliases ?? {}

  test('names and commands as Kamal takes them: each runs a kamal-backup command in the running accessory', () => {
    assert.deepEqual(Object.keys(aliases), ['backups', 'backup-now', 'backup-status'])
    for (const [name, command] of Object.entries(aliases)) {
      assert.match(name, /^[a-z0-9_-]+$/)
      assert.match(command, /^accessory exec backup --reuse "kamal-backup [a-z -]+"$/, name)
    }
  })

  test('added to the sample app deploy.yml: validate reads it without a finding (--strict); a name Kamal refuses is a finding', async () => {
    const app = sampleApp()
    const deploy = join(app, 'config', 'deploy.yml')
    const base = readFileSync(deploy, 'utf8')
    writeFileSync(deploy, `${base}\n${snippet}`)
    const r = await kb(['validate', '--strict', '--json'], {cwd: app})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(JSON.parse(r.stdout).findings, [])
    writeFileSync(deploy, `${base}\n${snippet}  deploy: accessory exec backup --reuse "kamal-backup status"\n  Backup Now: app exec "x"\n`)
    const refused = await kb(['validate', '--json'], {cwd: app})
    assert.equal(refused.code, 1)
    const findings = JSON.parse(refused.stdout).findings as {rule: string; path: string; message: string}[]
    assert.deepEqual(findings.map((f) => [f.rule, f.path]), [['deploy/invalid', 'aliases.deploy'], ['deploy/format', 'aliases.Backup Now']])
    assert.match(findings[0]!.message, /one of Kamal's own commands/)
  })
})
