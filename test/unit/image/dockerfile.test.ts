// In test/unit/image/, a folder named for what it tests: the accessory image's Dockerfile (no src/ counterpart).
// The accessory image cannot be built here (no Docker engine), so its Dockerfile is parsed and checked for what
// the product depends on: pinned bases, restic >= 0.18 pinned by version and verified by SHA-256 in the same step
// that downloads it, PostgreSQL clients for every supported major laid out where the engine looks for them, the
// other tools, tini as PID 1, `kamal-backup schedule` as the command, the environment the CLI reads, and no
// secret baked in. When the lab has the same restic .deb (setup.sh fetches it), the pinned checksum is verified
// against the real file.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {ROOT} from '../../support/cli.ts'
import {labRoot} from '../../support/lab.ts'
import {ACCESSORY_CONFIG_PATH, DEFAULT_STATE_DIR} from '../../../src/config/types.ts'

interface Instruction {
  keyword: string
  args: string
  line: number
}

/** Dockerfile instructions: comments dropped, backslash continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = []
  let pending = ''
  let start = 0
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd()
    if (!pending && (/^\s*#/.test(line) || line.trim() === '')) return
    if (/^\s*#/.test(line)) return // a comment inside a continued instruction
    if (!pending) start = index + 1
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      return
    }
    pending += line
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(pending)
    assert.ok(match, `line ${start}: not an instruction: ${pending}`)
    out.push({keyword: match[1]!.toUpperCase(), args: match[2]!.trim().replace(/\s+/g, ' '), line: start})
    pending = ''
  })
  assert.equal(pending, '', 'the Dockerfile does not end inside a continued instruction')
  return out
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const instructions = parseDockerfile(dockerfile)
const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword)
const args = Object.fromEntries(all('ARG').map((i) => i.args.split('=') as [string, string]).filter((kv) => kv.length === 2))
const stages = all('FROM')
const finalStage = instructions.slice(instructions.lastIndexOf(stages.at(-1)!))
const inFinal = (keyword: string) => finalStage.filter((i) => i.keyword === keyword)
const expand = (text: string) => text.replace(/\$\{(\w+)\}/g, (_m, name: string) => args[name] ?? `\${${name}}`)

function env(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const i of inFinal('ENV')) for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '')
  return out
}

describe('Dockerfile of the accessory image', () => {
  test('bases are pinned: a Node LTS line that is not end-of-life, an exact version, on Debian slim; no floating tags', () => {
    for (const from of stages) {
      const image = expand(from.args.split(' ')[0]!)
      assert.doesNotMatch(image, /:latest$|^[^:]+$/, `FROM ${image} (line ${from.line}) is pinned`)
    }
    const node = /^node:(\d+)\.\d+\.\d+-(bookworm|trixie)-slim\b/.exec(expand(stages.at(-1)!.args))
    assert.ok(node, `the final stage is node:<major>.<minor>.<patch>-<debian>-slim: ${expand(stages.at(-1)!.args)}`)
    const major = Number(node[1])
    assert.equal(major % 2, 0, `Node ${major} is an LTS line (even major)`)
    // End of life of each LTS line (nodejs.org release schedule); a newer line than this table knows is fine.
    const endOfLife: Record<number, string> = {18: '2025-04-30', 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30'}
    if (endOfLife[major]) assert.ok(new Date(endOfLife[major]!) > new Date(), `Node ${major} reached end of life on ${endOfLife[major]}: move the image to a current LTS line`)
    assert.ok(major >= 22, `Node ${major} is older than every line this table keeps alive`)
  })

  test('restic >= 0.18, pinned by version, downloaded and checked with sha256sum in one step', () => {
    const version = args.RESTIC_DEB_VERSION
    assert.ok(version, 'ARG RESTIC_DEB_VERSION')
    const [major, minor] = version.split(/[.-]/).map(Number)
    assert.ok(major! > 0 || minor! >= 18, `restic ${version} is >= 0.18`)
    assert.match(args.RESTIC_DEB_SHA256 ?? '', /^[0-9a-f]{64}$/, 'ARG RESTIC_DEB_SHA256 is a SHA-256')
    const fetch = all('RUN').find((r) => r.args.includes('restic.deb'))
    assert.ok(fetch, 'a RUN downloads the restic package')
    const download = fetch.args.indexOf('curl')
    const verify = fetch.args.indexOf('sha256sum -c')
    const unpack = fetch.args.indexOf('dpkg-deb -x')
    assert.ok(download >= 0 && verify > download && unpack > verify, 'download, then verify, then unpack, chained with &&')
    assert.ok(fetch.args.includes('${RESTIC_DEB_SHA256}') && fetch.args.includes('${RESTIC_DEB_VERSION}'))
    assert.match(fetch.args, /restic version \| grep -q "\^restic 0\\\.18\\\."/, 'the installed binary reports 0.18')
    assert.ok(inFinal('COPY').some((c) => /--from=restic \/usr\/local\/bin\/restic \/usr\/local\/bin\/restic/.test(c.args)))
  })

  test('the pinned checksum is the real one, when the lab has the same package', (t) => {
    const deb = join(labRoot(), 'apt', `restic_${args.RESTIC_DEB_VERSION}_amd64.deb`)
    if (!existsSync(deb)) return t.skip(`${deb} is not here (scripts/setup.sh --test fetches it)`)
    assert.equal(createHash('sha256').update(readFileSync(deb)).digest('hex'), args.RESTIC_DEB_SHA256)
  })

  test('PostgreSQL clients for a run of consecutive majors up to 18 at least, under the root the engine reads', () => {
    const majors = (args.POSTGRES_CLIENT_MAJORS ?? '').replace(/"/g, '').split(' ').filter(Boolean).map(Number)
    assert.ok(majors.length >= 4, `clients for at least four majors: ${majors.join(' ')}`)
    majors.forEach((m, i) => assert.ok(Number.isInteger(m) && (i === 0 || m === majors[i - 1]! + 1), `consecutive majors, oldest first: ${majors.join(' ')}`))
    // pg_dump refuses servers newer than itself: the newest client decides which servers can be backed up at all.
    assert.ok(majors.at(-1)! >= 18, `a PostgreSQL 18 server needs an 18 client: ${majors.join(' ')}`)
    const install = inFinal('RUN').find((r) => r.args.includes('postgresql-client-$m'))
    assert.ok(install, 'postgresql-client-<major> for each major')
    assert.ok(install.args.includes('apt.postgresql.org.sh'), 'from the PGDG repository, set up by postgresql-common')
    assert.equal(env().KAMAL_BACKUP_POSTGRES_CLIENT_ROOT, '/usr/lib/postgresql', 'the layout /usr/lib/postgresql/<major>/bin/pg_dump')
  })

  test('MariaDB client, sqlite3, rclone, an SSH client and tini are installed', () => {
    const installs = inFinal('RUN').map((r) => r.args).join(' ')
    for (const pkg of ['mariadb-client', 'sqlite3', 'rclone', 'openssh-client', 'tini']) assert.match(installs, new RegExp(`apt-get install [^&]*\\b${pkg}\\b`), pkg)
  })

  test('the CLI is the packed package, installed globally, and runs at build time', () => {
    const packed = all('RUN').find((r) => r.args.includes('npm pack'))
    assert.ok(packed && packed.args.includes('npm run build'), 'built, then packed as npm would publish it')
    const installed = inFinal('RUN').find((r) => r.args.includes('npm install -g'))
    assert.ok(installed, 'installed with npm install -g')
    assert.match(installed.args, /--omit=dev/)
    assert.match(installed.args, /kamal-backup version --json/)
  })

  test('environment, working directory, volume, entrypoint and command', () => {
    const e = env()
    assert.equal(e.KAMAL_BACKUP_IN_ACCESSORY, '1')
    assert.equal(e.KAMAL_BACKUP_STATE_DIR, DEFAULT_STATE_DIR)
    assert.equal(e.KAMAL_BACKUP_RESTIC, '/usr/local/bin/restic')
    assert.equal(inFinal('WORKDIR').at(-1)?.args, dirname(dirname(ACCESSORY_CONFIG_PATH)), 'config/kamal-backup.yml is found from WORKDIR')
    assert.ok(inFinal('VOLUME').some((v) => v.args === DEFAULT_STATE_DIR))
    assert.deepEqual(JSON.parse(inFinal('ENTRYPOINT').at(-1)!.args), ['/usr/bin/tini', '--'])
    assert.deepEqual(JSON.parse(inFinal('CMD').at(-1)!.args), ['kamal-backup', 'schedule'])
  })

  test('no secret is baked into the image', () => {
    for (const i of [...all('ENV'), ...all('ARG')]) assert.doesNotMatch(i.args, /(PASSWORD|SECRET|TOKEN|KEY)\w*=/i, `line ${i.line}: ${i.keyword} ${i.args}`)
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    for (const entry of ['.git', 'node_modules', '.kamal']) assert.ok(ignore.includes(entry), `.dockerignore lists ${entry}`)
  })

  test('the parser joins continuations and skips comments', () => {
    const parsed = parseDockerfile('# c\nFROM a:1 AS x\nRUN one \\\n  # inside\n  && two\nCMD ["x"]\n')
    assert.deepEqual(parsed.map((i) => [i.keyword, i.args, i.line]), [['FROM', 'a:1 AS x', 2], ['RUN', 'one && two', 3], ['CMD', '["x"]', 6]])
  })
})
