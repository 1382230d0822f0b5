// `hooks install` on files: a new hook, a block appended to an existing one (kept, first), the same block twice
// (nothing written), an older block replaced in place, hooks_path from deploy.yml, a hook in another language
// refused, an `exit` before the block said; and the block itself is POSIX sh (dash -n).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {HOOK_BEGIN, HOOK_BLOCK, HOOK_END, hooksPath, installHooks, withBlock} from '../../../src/config/hooks.ts'

const checkout = () => mkdtempSync(join(tmpdir(), 'kb-hooks-'))
const hookAt = (dir: string, path = '.kamal/hooks') => join(dir, path, 'pre-deploy')

describe('hooks install', () => {
  test('no hook: a new executable #!/bin/sh hook holding the block', () => {
    const dir = checkout()
    const result = installHooks({cwd: dir})
    assert.deepEqual(result, {file: '.kamal/hooks/pre-deploy', status: 'created', made_executable: false, notes: []})
    const text = readFileSync(hookAt(dir), 'utf8')
    assert.ok(text.startsWith('#!/bin/sh\n') && text.endsWith(HOOK_BLOCK))
    assert.equal(statSync(hookAt(dir)).mode & 0o777, 0o755)
    execFileSync('dash', ['-n', hookAt(dir)])
  })

  test('an existing hook: kept as it was, the block appended; a second install writes nothing', () => {
    const dir = checkout()
    mkdirSync(join(dir, '.kamal', 'hooks'), {recursive: true})
    const own = '#!/usr/bin/env bash\necho checking the branch\n[ "$(git branch --show-current)" = main ] || exit 1'
    writeFileSync(hookAt(dir), own, {mode: 0o644})
    const first = installHooks({cwd: dir})
    assert.equal(first.status, 'appended')
    assert.equal(first.made_executable, true)
    const text = readFileSync(hookAt(dir), 'utf8')
    assert.equal(text, `${own}\n\n${HOOK_BLOCK}`)
    assert.equal(statSync(hookAt(dir)).mode & 0o777, 0o755)
    const mtime = statSync(hookAt(dir)).mtimeMs
    const second = installHooks({cwd: dir})
    assert.deepEqual(second, {file: '.kamal/hooks/pre-deploy', status: 'unchanged', made_executable: false, notes: []})
    assert.equal(readFileSync(hookAt(dir), 'utf8'), text)
    assert.equal(statSync(hookAt(dir)).mtimeMs, mtime)
  })

  test('an older block is replaced in place; what is around it stays', () => {
    const old = `#!/bin/sh\necho before\n${HOOK_BEGIN}\nkamal-backup backup --force\n${HOOK_END}\necho after\n`
    const {text, status} = withBlock(old)
    assert.equal(status, 'updated')
    assert.equal(text, `#!/bin/sh\necho before\n${HOOK_BLOCK}echo after\n`)
    assert.deepEqual(withBlock(text), {text, status: 'unchanged'})
  })

  test("hooks_path from deploy.yml (quoted or not, with a comment); Kamal's default otherwise", () => {
    const dir = checkout()
    mkdirSync(join(dir, 'config'))
    assert.equal(hooksPath(dir), '.kamal/hooks')
    writeFileSync(join(dir, 'config', 'deploy.yml'), 'service: app\nhooks_path: "ops/hooks" # ours\n')
    assert.equal(hooksPath(dir), 'ops/hooks')
    writeFileSync(join(dir, 'config', 'deploy.yml'), 'service: app\nx-hooks_path: no\n  hooks_path: nested\n')
    assert.equal(hooksPath(dir), '.kamal/hooks')
    writeFileSync(join(dir, 'config', 'deploy.yml'), 'service: app\nhooks_path: bin/hooks\n')
    assert.equal(installHooks({cwd: dir}).file, 'bin/hooks/pre-deploy')
  })

  test('a hook in another language is refused (the block is shown to add by hand); an exit before the block is said', () => {
    const dir = checkout()
    mkdirSync(join(dir, '.kamal', 'hooks'), {recursive: true})
    writeFileSync(hookAt(dir), '#!/usr/bin/env ruby\nputs "hi"\n')
    assert.throws(() => installHooks({cwd: dir}), (e: Error & {suggestions?: string[]}) => /is a ruby script/.test(e.message) && e.suggestions!.some((s) => s.includes(HOOK_BEGIN)))
    assert.equal(readFileSync(hookAt(dir), 'utf8'), '#!/usr/bin/env ruby\nputs "hi"\n', 'left as it was')
    writeFileSync(hookAt(dir), '#!/bin/sh\necho hi\nexit 0\n')
    chmodSync(hookAt(dir), 0o755)
    const result = installHooks({cwd: dir})
    assert.match(result.notes.join('\n'), /has an `exit` or `exec` line before the kamal-backup block/)
  })
})
