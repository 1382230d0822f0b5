// Config files of the Ruby gem (crmne/kamal-backup) → this project's format. Pure: text in, text and the list of
// changes out, so `validate` can explain each difference at its line and `migrate` can show and write the result.
// Edits the YAML document in place (the yaml library keeps comments and the order of keys where it can).
import {LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Pair, type Scalar, type YAMLMap} from 'yaml'
import type {YamlPath} from '../parse/yaml.js'
import {formatPath} from '../parse/findings.js'

export interface GemChange {
  /** Where in the original file (1-based line; 1 for additions at the top level). */
  line: number
  path: YamlPath
  /** What differs, and what the rewrite does about it. */
  message: string
  /** Something only the user can do (a value to put into .kamal/secrets, ...). */
  action?: string
  /** Other places whose schema findings this change answers (a renamed key answers "missing path" on its entry). */
  answers?: YamlPath[]
  /** Proves nothing about whose file it is (a key neither format knows: as likely a typo; a password written in
   *  the file): validate keeps its own finding for it (a did-you-mean, the literal-secret error). */
  weak?: true
}

export interface GemMigration {
  /** The rewritten file (unchanged text when there is nothing to change). */
  text: string
  changes: GemChange[]
  /** Whether the file was taken for the gem's (so its defaults were written out). */
  gem?: boolean
  /** The gem's defaults not written out because nothing showed the file is the gem's (`migrate --gem` writes them). */
  heldBack?: GemChange[]
}

/** The gem's retention when a keep_* is not set: restic forget --keep-last 7 --keep-daily 7 --keep-weekly 4
 *  --keep-monthly 6 --keep-yearly 2. kamal-backup never forgets without a policy, so migrate writes these out. */
export const GEM_RETENTION = {keep_last: 7, keep_daily: 7, keep_weekly: 4, keep_monthly: 6, keep_yearly: 2} as const

const TRUTHY = /^(1|true|yes|y|on)$/i
const FALSEY = /^(0|false|no|n|off)$/i
const DATABASE_KEYS = new Set(['name', 'adapter', 'url', 'password', 'path', 'max_shrink'])
const RESTIC_KEYS = new Set(['repository', 'repository_file', 'password', 'rest', 'env', 'options', 'init_if_missing', 'check_after_backup', 'check_read_data_subset', 'forget_after_backup', 'retention'])
const RETENTION_KEYS = new Set(['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly', 'keep_within'])
const BACKUP_KEYS = new Set(['schedule', 'enabled'])

/** A secret's name from a database name: primary → PRIMARY_DATABASE_PASSWORD. */
const secretName = (name: string, what: string) => `${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'APP'}_${what}`

class Editor {
  readonly changes: GemChange[] = []
  constructor(
    readonly doc: Document,
    private readonly lineOf: (offset: number) => number,
  ) {}

  line(node: unknown): number {
    const range = (node as {range?: [number, number, number]} | undefined)?.range
    return range ? this.lineOf(range[0]) : 1
  }

  change(node: unknown, path: YamlPath, message: string, action?: string, answers?: YamlPath[], weak?: true): void {
    this.changes.push({line: this.line(node), path, message, ...(action && {action}), ...(answers && {answers}), ...(weak && {weak})})
  }

  /** The pair of `key` in a map (its key node carries the line). */
  pair(map: YAMLMap, key: string): Pair<Scalar, unknown> | undefined {
    return map.items.find((p) => isScalar(p.key) && String(p.key.value) === key) as Pair<Scalar, unknown> | undefined
  }

  /** Removes every key not in `allowed`, saying the gem ignored it. */
  dropUnknown(map: YAMLMap, path: YamlPath, allowed: ReadonlySet<string>, why = 'the gem ignored it; kamal-backup refuses keys it does not know'): void {
    for (const p of [...map.items]) {
      const key = isScalar(p.key) ? String(p.key.value) : String(p.key)
      if (allowed.has(key)) continue
      this.changes.push({line: this.line(p.key), path: [...path, key], message: `${formatPath([...path, key])}: removed (${why})`, weak: true})
      map.delete(p.key)
    }
  }

  /** A yes/no string (the gem read "yes", "on", "1"...) as a boolean. */
  boolean(map: YAMLMap, key: string, path: YamlPath): void {
    const p = this.pair(map, key)
    if (!p || !isScalar(p.value) || typeof p.value.value === 'boolean') return
    const text = String(p.value.value)
    const value = TRUTHY.test(text) ? true : FALSEY.test(text) ? false : undefined
    if (value === undefined) return
    this.change(p.key, [...path, key], `${formatPath([...path, key])}: "${text}" is written as ${value} (a YAML boolean)`)
    p.value = this.doc.createNode(value) as Scalar
  }
}

/** Rewrites config/kamal-backup.yml of the gem. Undefined when the text is not a YAML mapping (nothing to do). */
/** `gem: true`: the file is the gem's even if nothing in it says so (its defaults are written out). */
export function migrateGemConfig(text: string, options: {gem?: boolean} = {}): GemMigration | undefined {
  const {doc, editor} = open(text)
  if (!doc || !editor) return undefined
  const root = doc.contents as YAMLMap
  let absentRetention: [string, number][] = []

  // databases
  const databases = root.get('databases', true)
  if (isSeq(databases)) {
    for (const [index, item] of databases.items.entries()) {
      if (!isMap(item)) continue
      const path: YamlPath = ['databases', index]
      const name = String(item.get('name') ?? `db${index}`)
      const database = editor.pair(item, 'database')
      if (database && !editor.pair(item, 'path')) {
        editor.change(database.key, [...path, 'database'], `databases[${index}].database: renamed path (the gem took both names for a SQLite file)`, undefined, [path])
        database.key = doc.createNode('path') as Scalar
      }
      const adapter = editor.pair(item, 'adapter')
      if (adapter && isScalar(adapter.value) && typeof adapter.value.value === 'string' && adapter.value.value !== adapter.value.value.toLowerCase()) {
        editor.change(adapter.key, [...path, 'adapter'], `databases[${index}].adapter: "${adapter.value.value}" is written in lower case`)
        adapter.value = doc.createNode(adapter.value.value.toLowerCase()) as Scalar
      }
      const password = editor.pair(item, 'password')
      if (password && isScalar(password.value) && String(password.value.value ?? '') !== '') {
        const secret = secretName(name, 'DATABASE_PASSWORD')
        editor.change(password.key, [...path, 'password'], `databases[${index}].password: a password written in the file becomes {secret: ${secret}}`, `put the password into .kamal/secrets as ${secret}, and list ${secret} under the backup accessory's env.secret in config/deploy.yml`, undefined, true)
        password.value = flow(doc, {secret})
      }
      const url = editor.pair(item, 'url')
      if (url && isScalar(url.value) && /^[a-z0-9+.-]+:\/\/[^/@\s]*:[^/@\s]*@/i.test(String(url.value.value))) {
        const secret = secretName(name, 'DATABASE_URL')
        editor.change(url.key, [...path, 'url'], `databases[${index}].url: a URL with a password becomes {secret: ${secret}}`, `put the URL into .kamal/secrets as ${secret}, and list ${secret} under the backup accessory's env.secret`, undefined, true)
        url.value = flow(doc, {secret})
      }
      editor.dropUnknown(item, path, DATABASE_KEYS)
    }
  }

  // paths: a single path was allowed
  const paths = editor.pair(root, 'paths')
  if (paths && isScalar(paths.value) && typeof paths.value.value === 'string') {
    editor.change(paths.key, ['paths'], 'paths: a single path is written as a list')
    paths.value = doc.createNode([paths.value.value])
  }

  // restore_from only meant something in the gem's .local.yml
  const restoreFrom = editor.pair(root, 'restore_from')
  if (restoreFrom) {
    editor.change(restoreFrom.key, ['restore_from'], 'restore_from: removed (only the gem\'s kamal-backup.local.yml used it; there it becomes paths: [{from, to}])')
    root.delete('restore_from')
  }

  // restic
  const restic = root.get('restic', true)
  if (isMap(restic)) {
    const rest = restic.get('rest', true)
    if (isMap(rest)) {
      const user = editor.pair(rest, 'user')
      if (user && !editor.pair(rest, 'username')) {
        editor.change(user.key, ['restic', 'rest', 'user'], 'restic.rest.user: renamed username')
        user.key = doc.createNode('username') as Scalar
      }
    }
    const password = editor.pair(restic, 'password')
    if (password && isScalar(password.value) && String(password.value.value ?? '') !== '') {
      editor.change(password.key, ['restic', 'password'], 'restic.password: a password written in the file becomes {secret: RESTIC_PASSWORD}', 'put it into .kamal/secrets as RESTIC_PASSWORD, listed under the backup accessory\'s env.secret', undefined, true)
      password.value = flow(doc, {secret: 'RESTIC_PASSWORD'})
    }
    for (const key of ['init_if_missing', 'check_after_backup', 'forget_after_backup']) editor.boolean(restic, key, ['restic'])
    const retention: unknown = restic.get('retention', true)
    if (isMap(retention)) {
      const map = retention
      // Keys the file sets (even to 0, which the gem read as "no such flag") keep no default.
      absentRetention = Object.entries(GEM_RETENTION).filter(([key]) => !editor.pair(map, key))
      for (const p of [...map.items]) {
        const key = isScalar(p.key) ? String(p.key.value) : ''
        if (!isScalar(p.value) || !RETENTION_KEYS.has(key) || key === 'keep_within') continue
        const number = Number(p.value.value)
        if (Number.isInteger(number) && number <= 0) {
          // Weak: a 0 or a negative number is as likely a slip in a file of ours (validate says why it is wrong).
          editor.change(p.key, ['restic', 'retention', key], `restic.retention.${key}: ${number} removed (the gem left the flag out for 0 or less)`, undefined, undefined, true)
          map.delete(p.key)
        } else if (typeof p.value.value === 'string' && Number.isInteger(number)) {
          editor.change(p.key, ['restic', 'retention', key], `restic.retention.${key}: "${p.value.value}" is written as the number ${number}`)
          p.value = doc.createNode(number) as Scalar
        }
      }
      editor.dropUnknown(map, ['restic', 'retention'], RETENTION_KEYS)
    }
    editor.dropUnknown(restic, ['restic'], RESTIC_KEYS)
  }

  // backup
  const backup = root.get('backup', true)
  if (isMap(backup)) {
    editor.boolean(backup, 'enabled', ['backup'])
    editor.dropUnknown(backup, ['backup'], BACKUP_KEYS)
  }

  // What the gem did by default, written out: only for a file of the gem (it needed the changes above, or the caller
  // says so). A file valid in both formats cannot tell; `semantics` says what would be added.
  const semantics: GemChange[] = []
  const resticNode = root.get('restic', true)
  const resticMap = isMap(resticNode) ? resticNode : undefined
  const retention = resticMap?.get('retention', true)
  const addRetention = resticMap && !isMap(retention) ? GEM_RETENTION : isMap(retention) ? Object.fromEntries(absentRetention) : {}
  const addCheck = resticMap && !editor.pair(resticMap, 'check_after_backup')
  const ours = /^#.*\$schema=\S*kamal-backup\.schema\.json/m.test(text)
  const apply = options.gem === true || (editor.changes.some((c) => !c.weak) && !ours)
  const resticLine = editor.pair(root, 'restic')?.key
  if (Object.keys(addRetention).length > 0) {
    const message = isMap(retention)
      ? `restic.retention: ${describe(addRetention)} added (the gem's defaults for keys not set)`
      : `restic.retention: added with the gem's defaults (${describe(GEM_RETENTION)}): the gem applied them when none was set, kamal-backup never deletes without a policy`
    semantics.push({line: editor.line(isMap(retention) ? editor.pair(resticMap!, 'retention')?.key : resticLine), path: ['restic', 'retention'], message})
    if (apply) {
      if (isMap(retention)) for (const [key, value] of Object.entries(addRetention)) retention.add(doc.createPair(key, value))
      else resticMap!.set('retention', flow(doc, {...GEM_RETENTION}, false))
    }
  }
  if (addCheck) {
    // The gem's default was off; seed 004 wants the repository checked regularly, and validate warns without it.
    semantics.push({line: editor.line(resticLine), path: ['restic', 'check_after_backup'], message: 'restic.check_after_backup: true added (the gem did not check the repository unless told to; damage is better found after a backup than during a restore — set it to false to keep the gem\'s behaviour)'})
    if (apply) resticMap!.set('check_after_backup', true)
  }
  if (apply) editor.changes.push(...semantics)
  return {...finish(doc, text, editor), gem: apply, ...(!apply && !ours && semantics.length > 0 && {heldBack: semantics})}
}

/** Rewrites the gem's config/kamal-backup.local.yml. `productionPaths`: `paths` of kamal-backup.yml (the gem
 *  paired them, or restore_from, with the local paths by position). */
export function migrateGemLocalConfig(text: string, productionPaths: readonly string[]): GemMigration | undefined {
  const {doc, editor} = open(text)
  if (!doc || !editor) return undefined
  const root = doc.contents as YAMLMap
  const databases = root.get('databases', true)
  if (isSeq(databases)) {
    for (const [index, item] of databases.items.entries()) {
      if (!isMap(item)) continue
      const database = editor.pair(item, 'database')
      if (database && !editor.pair(item, 'path')) {
        editor.change(database.key, ['databases', index, 'database'], `databases[${index}].database: renamed path`, undefined, [['databases', index]])
        database.key = doc.createNode('path') as Scalar
      }
      const adapter = editor.pair(item, 'adapter')
      if (adapter) {
        editor.change(adapter.key, ['databases', index, 'adapter'], `databases[${index}].adapter: removed (the local target takes the adapter of the production database of the same name)`)
        item.delete('adapter')
      }
      editor.dropUnknown(item, ['databases', index], new Set(['name', 'url', 'password', 'path']))
    }
  }
  const paths = editor.pair(root, 'paths')
  const restoreFrom = editor.pair(root, 'restore_from')
  const list = (value: unknown): string[] | undefined => (isSeq(value) ? value.items.map((i) => (isScalar(i) ? String(i.value) : '')) : isScalar(value) ? [String(value.value)] : undefined)
  const targets = paths ? list(paths.value) : undefined
  if (paths && targets && targets.every((t) => t !== '')) {
    const sources = (restoreFrom ? list(restoreFrom.value) : undefined) ?? [...productionPaths]
    if (sources.length === targets.length) {
      editor.change(paths.key, ['paths'], `paths: the gem paired ${restoreFrom ? 'restore_from' : "kamal-backup.yml's paths"} with these by position; written as from/to pairs`)
      paths.value = doc.createNode(targets.map((to, i) => ({from: sources[i], to})))
    } else {
      editor.change(paths.key, ['paths'], `paths: ${targets.length} local path(s) for ${sources.length} backed-up path(s); the gem refused that too`, 'write paths: as a list of {from: <path in kamal-backup.yml>, to: <local directory>}')
    }
  }
  if (restoreFrom) {
    editor.change(restoreFrom.key, ['restore_from'], 'restore_from: removed (it is the `from` of each paths entry now)')
    root.delete('restore_from')
  }
  return finish(doc, text, editor)
}

/** The production paths of a kamal-backup.yml as the gem read them: a single path, or a list of strings and
 *  {path:} entries (the gem paired them with the local file's paths by position). */
export function gemProductionPaths(text: string): string[] {
  const doc = parseDocument(text, {version: '1.1'})
  const paths = doc.errors.length > 0 ? undefined : (doc.toJS() as {paths?: unknown} | null)?.paths
  const list = Array.isArray(paths) ? paths : typeof paths === 'string' ? [paths] : []
  return list.flatMap((p) => (typeof p === 'string' ? [p] : p && typeof p === 'object' && typeof (p as {path?: unknown}).path === 'string' ? [(p as {path: string}).path] : []))
}

function finish(doc: Document, text: string, editor: Editor): GemMigration {
  return {text: editor.changes.length > 0 ? doc.toString({lineWidth: 0, flowCollectionPadding: false}) : text, changes: editor.changes.sort((a, b) => a.line - b.line)}
}

function open(text: string): {doc?: Document; editor?: Editor} {
  const lines = new LineCounter()
  const doc = parseDocument(text, {version: '1.1', lineCounter: lines})
  if (doc.errors.length > 0 || !isMap(doc.contents)) return {}
  return {doc, editor: new Editor(doc, (offset) => lines.linePos(offset).line)}
}

function flow(doc: Document, value: Record<string, unknown>, inline = true): YAMLMap {
  const node = doc.createNode(value) as YAMLMap
  node.flow = inline
  return node
}

function describe(retention: Readonly<Record<string, number>>): string {
  return Object.entries(retention).map(([k, v]) => `${k} ${v}`).join(', ')
}

/** The Ruby gem's own environment variables (it read its whole config from env too) → where the setting lives now. */
const GEM_ENV: Record<string, string> = {
  APP_NAME: 'app',
  KAMAL_BACKUP_ACCESSORY: 'accessory',
  DATABASE_ADAPTER: 'databases[].adapter',
  SQLITE_DATABASE_PATH: 'databases[].path',
  BACKUP_PATHS: 'paths',
  LOCAL_RESTORE_SOURCE_PATHS: 'paths[].from in config/kamal-backup.local.yml',
  BACKUP_SCHEDULE_SECONDS: 'backup.schedule',
  BACKUP_START_DELAY_SECONDS: 'backup.schedule',
  BACKUP_ENABLED: 'backup.enabled',
  RESTIC_INIT_IF_MISSING: 'restic.init_if_missing',
  RESTIC_CHECK_AFTER_BACKUP: 'restic.check_after_backup',
  RESTIC_CHECK_READ_DATA_SUBSET: 'restic.check_read_data_subset',
  RESTIC_FORGET_AFTER_BACKUP: 'restic.forget_after_backup',
  KAMAL_BACKUP_ALLOW_SUSPICIOUS_PATHS: 'paths (kamal-backup never backs up system directories)',
}

/** Where the setting of a variable only the gem read lives now (undefined for any other variable). */
export function gemEnvReplacement(name: string): string | undefined {
  return GEM_ENV[name] ?? (/^RESTIC_KEEP_(LAST|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY)$/.test(name) ? `restic.retention.keep_${name.slice('RESTIC_KEEP_'.length).toLowerCase()}` : undefined)
}
