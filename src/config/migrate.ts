// `kamal-backup migrate`: config/kamal-backup.yml and config/kamal-backup.local.yml of the Ruby gem
// (crmne/kamal-backup) rewritten into this project's format. Shows what changes first; writes only when asked,
// each file in one step. Never touches config/deploy.yml or .kamal/secrets: what only they can fix is listed.
import {renameSync, rmSync, writeFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {displayPath, throwOnErrors} from '../parse/findings.js'
import {unifiedDiff} from '../parse/diff.js'
import {gemProductionPaths, migrateGemConfig, migrateGemLocalConfig, type GemChange} from './gem.js'
import {readYamlFile} from './backup-config.js'
import {DEFAULT_LOCAL_CONFIG, backupConfigPath} from './validate.js'

export interface MigratedFile {
  file: string
  changes: GemChange[]
  /** Unified diff of the file before and after (empty when nothing changes). */
  diff: string
  written: boolean
  /** The gem's defaults that `--gem` would write out (the file did not show it is the gem's). */
  heldBack: GemChange[]
}

export interface MigrateResult {
  files: MigratedFile[]
  /** What only the user can do (secrets to set, ...), from every file. */
  actions: string[]
  written: boolean
}

export function migrateCheckout(options: {cwd: string; env: Readonly<Record<string, string | undefined>>; backupConfigFile?: string; write?: boolean; gem?: boolean}): MigrateResult {
  const main = backupConfigPath({cwd: options.cwd, env: options.env, ...(options.backupConfigFile !== undefined && {backupConfigFile: resolve(options.cwd, options.backupConfigFile)})})
  const local = resolve(options.cwd, DEFAULT_LOCAL_CONFIG)
  const files: MigratedFile[] = []
  const plans: {absolute: string; text: string}[] = []
  // A missing or unreadable file is an error, said as validate says it: never "nothing to change".
  const read = readYamlFile(main, options.cwd, {what: 'backup'})
  if (!read.parsed) throwOnErrors(read.findings)
  const mainText = read.parsed!.text
  const mainPaths: string[] = []
  {
    const migrated = migrateGemConfig(mainText, {gem: options.gem === true})
    if (migrated) {
      const file = displayPath(main, options.cwd)
      files.push({file, changes: migrated.changes, diff: unifiedDiff(mainText, migrated.text, {from: `a/${file}`, to: `b/${file}`}), written: false, heldBack: migrated.heldBack ?? []})
      plans.push({absolute: main, text: migrated.text})
    }
    mainPaths.push(...gemProductionPaths(mainText))
  }
  const readLocal = readYamlFile(local, options.cwd, {optional: true})
  if (!readLocal.parsed) throwOnErrors(readLocal.findings)
  if (readLocal.parsed) {
    const text = readLocal.parsed.text
    const migrated = migrateGemLocalConfig(text, mainPaths)
    if (migrated) {
      const file = displayPath(local, options.cwd)
      files.push({file, changes: migrated.changes, diff: unifiedDiff(text, migrated.text, {from: `a/${file}`, to: `b/${file}`}), written: false, heldBack: []})
      plans.push({absolute: local, text: migrated.text})
    }
  }
  let written = false
  if (options.write) {
    for (const [index, plan] of plans.entries()) {
      if (files[index]!.changes.length === 0) continue
      // Replace in one step: a reader never sees half a file.
      const temporary = `${plan.absolute}.tmp-${process.pid}`
      try {
        writeFileSync(temporary, plan.text)
        renameSync(temporary, plan.absolute)
      } catch (error) {
        rmSync(temporary, {force: true})
        throw error
      }
      files[index]!.written = true
      written = true
    }
  }
  const actions = [...new Set(files.flatMap((f) => f.changes.flatMap((c) => (c.action ? [c.action] : []))))]
  return {files, actions, written}
}
