// What every command must offer (help with examples, --json, documented exit codes), and the committed oclif
// manifest being the one the build generates.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ROOT, ensureBuilt, kb} from '../../support/cli.ts'
import {ERROR_CODES, ExitCode} from '../../../src/errors.ts'

interface ManifestCommand {
  id: string
  summary?: string
  examples?: unknown[]
  flags: Record<string, unknown>
}

function manifest(): Record<string, ManifestCommand> {
  return JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands
}

describe('every command', () => {
  const commands = Object.values(manifest())

  test('there are the twenty-four commands of the README', () => {
    assert.deepEqual(commands.map((c) => c.id).sort(), ['backup', 'check', 'copy', 'drill:local', 'drill:production', 'dump', 'evidence', 'evidence:keygen', 'evidence:verify', 'generate', 'hooks:install', 'init', 'list', 'migrate', 'notify:test', 'prune', 'restore:local', 'restore:production', 'runbook', 'schedule', 'status', 'unlock', 'validate', 'version'])
  })

  for (const command of commands) {
    test(`${command.id}: a summary, examples, --json, and --help that shows them`, async () => {
      assert.ok(command.summary, 'summary')
      assert.ok((command.examples ?? []).length > 0, 'at least one example')
      assert.ok('json' in command.flags, '--json flag')
      const help = await kb([...command.id.split(':'), '--help'])
      assert.equal(help.code, 0, help.stderr)
      assert.match(help.stdout, /^EXAMPLES$/m)
      assert.match(help.stdout, /--json/)
      assert.match(help.stdout, new RegExp(`\\$ kamal-backup ${command.id.replace(':', ' ')}`))
    })
  }
})

test('only the accessory commands take the SSH flags; restore local and drill local always run here', async () => {
  const local = ['restore:local', 'drill:local', 'validate', 'init', 'hooks:install', 'migrate', 'generate', 'runbook', 'evidence:keygen', 'evidence:verify']
  for (const command of Object.values(manifest())) {
    for (const flag of ['local', 'host', 'strict-host-key']) {
      assert.equal(flag in command.flags, !local.includes(command.id), `${command.id} --${flag}`)
    }
  }
  const help = await kb(['restore', 'local', '--help'])
  assert.doesNotMatch(help.stdout, /REMOTE FLAGS|--strict-host-key/)
  assert.match((await kb(['backup', '--help'])).stdout, /KAMAL_BACKUP_IN_ACCESSORY=1/)
})

test('a stray word after a command that takes none: one usage error, exit 2', async () => {
  const r = await kb(['validate', 'extra'], {cwd: tmpdir()})
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^Error: Unexpected argument: extra\n {2}→ See --help/)
})

test('--host with --local is said to be ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-local-'))
  try {
    const r = await kb(['list', '--local', '--host', '10.0.0.9'], {cwd: dir})
    assert.match(r.stderr, /--host applies only to the SSH connection: ignored with --local/)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('the README documents every exit code the CLI uses', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const table = readme.slice(readme.indexOf('## Exit codes'), readme.indexOf('## Error codes'))
  for (const code of Object.values(ExitCode)) assert.match(table, new RegExp(`^\\| ${code} \\|`, 'm'), `exit code ${code}`)
})

test('the README\'s error code table and the registry (src/errors.ts) agree: the same codes, exit codes and meanings', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('## JSON output'))
  const documented = new Map([...section.matchAll(/^\| `([^`]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1]!, {exit: Number(m[2]), meaning: m[3]!}]))
  assert.ok(documented.size > 50, `the table was found (${documented.size} rows)`)
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CODES).sort(), 'the same codes in both')
  for (const [code, entry] of Object.entries(ERROR_CODES)) assert.deepEqual(documented.get(code), {exit: entry.exit, meaning: entry.meaning}, code)
  // One naming style, and every exit code is a documented one.
  for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^[a-z]+\/[a-z]+(-[a-z]+)*$/, code)
  for (const {exit} of Object.values(ERROR_CODES)) assert.ok((Object.values(ExitCode) as number[]).includes(exit), `exit ${exit}`)
})

test('oclif.manifest.json as committed is what the build generates', (t) => {
  ensureBuilt()
  // `oclif manifest` deletes the manifest in its working directory: run it in a copy of the package.
  const dir = mkdtempSync(join(tmpdir(), 'kb-manifest-'))
  try {
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
    symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'))
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    execFileSync(join(ROOT, 'node_modules/.bin/oclif'), ['manifest', dir], {cwd: dir, stdio: 'ignore', env: {...process.env, OCLIF_SKIP_UPDATE_CHECK: '1'}})
    const generated = readFileSync(join(dir, 'oclif.manifest.json'), 'utf8')
    const committed = spawnSync('git', ['show', 'HEAD:oclif.manifest.json'], {cwd: ROOT, encoding: 'utf8'})
    if (committed.status !== 0) {
      // Not a git checkout (an unpacked package): the file on disk is the one that ships.
      assert.equal(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'), generated)
      return
    }
    if (committed.stdout === generated) return
    // Only the inputs count as work in progress: the build rewrites the manifest itself before the tests run.
    const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'package.json'], {cwd: ROOT, encoding: 'utf8'}).stdout.trim()
    if (dirty) {
      t.skip(`uncommitted changes to the commands: commit oclif.manifest.json (npm run build writes it) with them`)
      return
    }
    assert.fail('the committed oclif.manifest.json is stale: run `npm run build` and commit oclif.manifest.json')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
