// Reads config/deploy.yml the way Kamal 2.x does: -c/-d file naming, ERB per file (with KAMAL_DESTINATION set),
// YAML as Psych sees it, ActiveSupport-style deep merge of the destination file, then Kamal's strict key checks
// for the sections kamal-backup relies on. Positions survive the merge, so findings point at the right file:line.
import {readFileSync} from 'node:fs'
import {basename, dirname, extname, join, resolve} from 'node:path'
import {ConfigError} from '../errors.js'
import {validateDeployFile} from '../generated/validators.js'
import deploySchema from '../../schemas/kamal-deploy.schema.json' with {type: 'json'}
import {displayPath} from '../config/backup-config.js'
import {finding, type Finding} from '../config/findings.js'
import {schemaFindings} from '../config/schema-findings.js'
import {renderErb} from './erb.js'
import {parseYaml, PositionMap, type YamlPath} from './yaml.js'

export const DEFAULT_DEPLOY_FILE = 'config/deploy.yml'

export interface DeployOptions {
  cwd: string
  configFile?: string
  destination?: string
  env: Readonly<Record<string, string | undefined>>
}

export interface DeploySource {
  /** The base file and, with -d, the destination file (display paths). */
  files: string[]
  configFile: string
  destination?: string
  data: Record<string, unknown>
  positions: PositionMap
}

/** `config/deploy.yml` + `-d staging` → `config/deploy.staging.yml` (Kamal always uses .yml for the overlay). */
export function destinationFile(configFile: string, destination: string): string {
  const ext = extname(configFile)
  return join(dirname(configFile), `${basename(configFile, ext)}.${destination}.yml`)
}

export function readDeployConfig(options: DeployOptions): {source?: DeploySource; findings: Finding[]} {
  const findings: Finding[] = []
  const base = resolve(options.cwd, options.configFile ?? DEFAULT_DEPLOY_FILE)
  const files = [base]
  if (options.destination) files.push(destinationFile(base, options.destination))
  // Kamal sets KAMAL_DESTINATION (or removes it) before rendering ERB.
  const env = {...options.env}
  if (options.destination) env.KAMAL_DESTINATION = options.destination
  else delete env.KAMAL_DESTINATION

  let merged: Record<string, unknown> | undefined
  const positions = new PositionMap()
  for (const [index, absolute] of files.entries()) {
    const file = displayPath(absolute, options.cwd)
    const top = {file, line: 1, column: 1}
    let text: string
    try {
      text = readFileSync(absolute, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const what = index === 0 ? 'the Kamal deploy config' : `the config for destination "${options.destination}"`
      findings.push(
        finding(
          'error',
          'deploy/missing-file',
          top,
          '',
          code === 'ENOENT' ? `${file} does not exist (${what})` : `${file} cannot be read (${code})`,
          index === 0 ? 'run from the Rails app root, or pass -c path/to/deploy.yml' : `create ${file}, or check the -d value`,
        ),
      )
      return {findings}
    }
    let value: unknown
    try {
      const rendered = renderErb(text, {file, env})
      for (const warning of rendered.warnings) findings.push(finding('warning', 'erb/comment-skipped', warning.position, '', warning.message))
      const parsed = parseYaml(rendered.output, file, {sourceLine: rendered.sourceLine})
      for (const d of parsed.diagnostics) findings.push(finding(d.severity, d.rule, d.position, d.path, d.message, d.suggestion))
      value = parsed.value
      if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
        findings.push(finding('error', 'deploy/not-a-mapping', top, '', `${file} must be a YAML mapping`))
        return {findings}
      }
      if (value === null || value === undefined) {
        // Kamal crashes on an empty destination file; say what is wrong instead.
        findings.push(finding('error', 'deploy/empty-file', top, '', `${file} is empty`, index === 0 ? undefined : 'delete it or add the keys that differ for this destination'))
        return {findings}
      }
      if (index === 0) {
        merged = value as Record<string, unknown>
        positions.overlay(parsed.positions)
      } else {
        merged = deepMerge(merged!, value as Record<string, unknown>, [], positions, parsed.positions)
      }
    } catch (error) {
      if (error instanceof ConfigError) {
        const loc = error.location
        findings.push(finding('error', error.code === 'config' ? 'deploy/invalid' : error.code.replace(/-/, '/'), {file: loc?.file ?? file, line: loc?.line ?? 1, column: loc?.column ?? 1}, '', error.message, error.suggestions.join(' ') || undefined))
        return {findings}
      }
      throw error
    }
  }
  const data = merged!
  if (!(validateDeployFile(data) as boolean)) {
    findings.push(
      ...schemaFindings((validateDeployFile as unknown as {errors: never}).errors, data, {
        schemas: {'kamal-deploy.schema.json': deploySchema},
        rootSchema: 'kamal-deploy.schema.json',
        positions,
        rulePrefix: 'deploy',
        patternHints: {service: 'Kamal service names use lowercase letters, digits, "_" and "-"'},
      }),
    )
  }
  const configFile = displayPath(base, options.cwd)
  if (data.require_destination === true && !options.destination) {
    findings.push(finding('error', 'deploy/require-destination', positions.nearest(['require_destination']), ['require_destination'], `${configFile} sets require_destination: true, so a destination is required`, 'pass -d <destination>, e.g. -d production'))
  }
  return {
    findings,
    source: {
      files: files.map((f) => displayPath(f, options.cwd)),
      configFile,
      ...(options.destination !== undefined && {destination: options.destination}),
      data,
      positions,
    },
  }
}

/** ActiveSupport's deep_merge: mappings merge key by key, everything else (lists, scalars, null) is replaced. */
export function deepMerge(
  base: Record<string, unknown>,
  overlay: Record<string, unknown>,
  path: YamlPath,
  positions?: PositionMap,
  overlayPositions?: PositionMap,
): Record<string, unknown> {
  const out: Record<string, unknown> = {...base}
  for (const [key, value] of Object.entries(overlay)) {
    const current = out[key]
    if (isPlainObject(current) && isPlainObject(value)) {
      out[key] = deepMerge(current, value, [...path, key], positions, overlayPositions)
    } else {
      out[key] = value
      if (positions && overlayPositions) positions.overlay(overlayPositions, [...path, key])
    }
  }
  return out
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
