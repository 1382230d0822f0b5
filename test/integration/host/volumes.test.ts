// Host mode with real named volumes of the lab's engine (podman 4.3, root): a path entry `{volume, runtime}` is
// resolved with `podman volume inspect` at each run, backed up from its host directory, restored into it, drilled;
// a volume the runtime does not have fails the run before anything is written. "The data root moved" is real too: a
// second podman storage (CONTAINERS_STORAGE_CONF with another graphroot) holds a volume of the same name at another
// host path, and a snapshot taken from the first is restored into it.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, lab, restic, run, RESTIC_VERSIONS, tempDir, uniqueName} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, readState, writeApp} from '../engine/support.ts'

const created: {name: string; env: Record<string, string>}[] = []

async function podman(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run('podman', args, {env: {...process.env, ...env}})
  assert.equal(r.code, 0, `podman ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A named volume of the lab's podman (or of the storage `env` points at), with its host directory. */
async function volume(env: Record<string, string> = {}, name = uniqueName('kbvol')): Promise<{name: string; dir: string}> {
  await podman(['volume', 'create', name], env)
  created.push({name, env})
  return {name, dir: await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', name], env)}
}

after(async () => {
  for (const v of created) await run('podman', ['volume', 'rm', '-f', v.name], {env: {...process.env, ...v.env}})
})

const pause = () => new Promise((r) => setTimeout(r, 1100)) // run ids have one-second resolution

describe('host mode: named volumes', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`a podman volume is resolved, backed up, restored and drilled (restic ${version})`, async () => {
      const storage = await volume()
      mkdirSync(join(storage.dir, 'ab'), {recursive: true})
      writeFileSync(join(storage.dir, 'ab', 'blob1'), 'first upload\n')
      writeFileSync(join(storage.dir, 'blob2'), 'second upload\n')
      const repo = freshRepo(version)
      const app = writeApp({version, repo, paths: [`  - {volume: ${storage.name}, runtime: podman}`], restic: localRestic(repo)})

      const backup = await cliJson(app, ['backup', '--force'])
      assert.equal(backup.result.code, 0, backup.result.stderr)
      const record = readState(app, 'last_backup.json')
      assertSchema('backup-run', record)
      assert.deepEqual(record.volumes, [{name: storage.name, runtime: 'podman', path: storage.dir}], 'the resolved directory is recorded in the run')
      assert.deepEqual(record.file_counts, [{path: `volume:${storage.name}`, files: 2}])
      const snapshots = JSON.parse((await restic(version, ['snapshots', '--json', '--tag', 'type:files'], {repo})).stdout)
      assert.equal(snapshots.length, 1)
      assert.deepEqual(snapshots[0].paths, [storage.dir], 'restic saved the host directory')
      assert.ok(snapshots[0].tags.includes(`path:volume-${storage.name}`), snapshots[0].tags.join(' '))
      assert.ok(snapshots[0].tags.includes(`volume:${storage.name}:${storage.dir}`), snapshots[0].tags.join(' '))

      // Production changes, then is restored from the run.
      writeFileSync(join(storage.dir, 'blob2'), 'overwritten\n')
      writeFileSync(join(storage.dir, 'stray'), 'added after the backup\n')
      const restore = await cli(app, ['restore', 'production', '--confirm', app.name, '--no-safety-backup'])
      assert.equal(restore.code, 0, restore.stdout + restore.stderr)
      assert.match(restore.stdout + restore.stderr, new RegExp(storage.dir.replace(/[/.]/g, '\\$&')))
      assert.deepEqual(readdirSync(storage.dir).sort(), ['ab', 'blob2'])
      assert.equal(readFileSync(join(storage.dir, 'blob2'), 'utf8'), 'second upload\n')

      // A drill into a scratch directory, and a local restore target named by the volume.
      const scratch = join(app.dir, 'drill-files')
      const drill = await cliJson(app, ['drill', 'production', '--files', scratch, '--yes'])
      assert.equal(drill.result.code, 0, drill.result.stderr)
      assert.equal(drill.json.verification.passed, true)
      assert.equal(readFileSync(join(scratch, 'ab', 'blob1'), 'utf8'), 'first upload\n')
    })
  }

  test('the data root moved: a snapshot of the old directory is restored into the volume where it is now; the label stays', async () => {
    const version = '0.18'
    const before = await volume()
    writeFileSync(join(before.dir, 'invoice.pdf'), 'the backed-up invoice\n')
    const repo = freshRepo(version)
    const app = writeApp({version, repo, paths: [`  - {volume: ${before.name}, runtime: podman}`], restic: localRestic(repo)})
    const first = await cli(app, ['backup', '--force'])
    assert.equal(first.code, 0, first.stderr)

    // Another storage for podman: the same volume name lives under another graphroot.
    const root = tempDir('moved-root')
    const conf = join(root, 'storage.conf')
    writeFileSync(conf, `[storage]\ndriver = "overlay"\ngraphroot = "${root}/storage"\nrunroot = "${root}/run"\n`)
    const moved = {CONTAINERS_STORAGE_CONF: conf}
    const now = await volume(moved, before.name)
    assert.notEqual(now.dir, before.dir)
    writeFileSync(join(now.dir, 'leftover'), 'not in the backup\n')

    const restore = await cli(app, ['restore', 'production', '--confirm', app.name, '--no-safety-backup'], {env: moved})
    assert.equal(restore.code, 0, restore.stdout + restore.stderr)
    assert.deepEqual(readdirSync(now.dir), ['invoice.pdf'])
    assert.equal(readFileSync(join(now.dir, 'invoice.pdf'), 'utf8'), 'the backed-up invoice\n')

    await pause()
    const second = await cli(app, ['backup', '--force'], {env: moved})
    assert.equal(second.code, 0, second.stderr)
    const files = JSON.parse((await restic(version, ['snapshots', '--json', '--tag', 'type:files'], {repo})).stdout) as {paths: string[]; tags: string[]}[]
    assert.deepEqual(files.map((s) => s.paths[0]), [before.dir, now.dir])
    for (const s of files) assert.ok(s.tags.includes(`path:volume-${before.name}`), `the label is the volume's name in both: ${s.tags.join(' ')}`)
    assert.deepEqual(readState(app, 'last_backup.json').volumes, [{name: before.name, runtime: 'podman', path: now.dir}])
  })

  test('a volume the runtime does not have fails the run before anything is written', async () => {
    const version = '0.18'
    const dir = tempDir('no-volume')
    const db = join(dir, 'app.sqlite3')
    assert.equal((await run(lab().bins.sqlite3, [db, 'CREATE TABLE t (v); INSERT INTO t VALUES (1);'])).code, 0)
    const missing = uniqueName('kbnovol')
    const repo = freshRepo(version)
    const app = writeApp({version, repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [`  - {volume: ${missing}, runtime: podman}`], restic: localRestic(repo)})
    const {result, json} = await cliJson(app, ['backup', '--force'])
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, new RegExp(`volume ${missing} does not exist in podman on this host; nothing was backed up`))
    assert.match(result.stderr, /podman volume ls/)
    assert.equal(json.status, 'failed')
    const record = readState(app, 'last_backup.json')
    assertSchema('backup-run', record)
    assert.equal(record.status, 'failed')
    assert.equal(record.failed_step, 'preflight')
    const listed = await restic(version, ['snapshots', '--json'], {repo})
    assert.deepEqual(listed.code === 0 ? JSON.parse(listed.stdout) : [], [], 'not even the database was saved')
  })
})
