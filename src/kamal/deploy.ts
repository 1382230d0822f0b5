// Reads config/deploy.yml the way Kamal 2.x does: -c/-d file naming, ERB per file (with KAMAL_DESTINATION set),
// YAML as Psych sees it, ActiveSupport-style deep merge of the destination file, then Kamal's strict key checks
// for the sections kamal-backup relies on. Positions survive the merge, so findings point at the right file:line.
import {readFileSync} from 'node:fs'
import {basename, dirname, extname, join, resolve} from 'node:path'
import {ConfigError, isFindingRule} from '../errors.js'
import {runSync} from '../exec/local.js'
import {validateDeployFile} from '../generated/validators.js'
import deploySchema from '../../schemas/kamal-deploy.schema.json' with {type: 'json'}
import {displayPath, finding, formatPath, joinSuggestions, type Finding} from '../parse/findings.js'
import {schemaFindings} from '../parse/schema-findings.js'
import {renderErb, type ErbDeferred, type ErbEmptyEnv} from './erb.js'
import {kamalEnv} from './secrets.js'
import {parseYaml, PositionMap, type YamlPath} from '../parse/yaml.js'

export const DEFAULT_DEPLOY_FILE = 'config/deploy.yml'

export interface DeployOptions {
  cwd: string
  configFile?: string
  destination?: string
  env: Readonly<Record<string, string | undefined>>
  /** Read the merged config from `kamal config` (Kamal's own ERB and merge) instead of the files. */
  kamalConfig?: boolean
  /** Runs `kamal` (tests replace it); default: spawn `kamal` from PATH in cwd. */
  runKamal?: KamalRunner
}

export type KamalRunner = (args: string[], options: {cwd: string; env: Readonly<Record<string, string | undefined>>}) => {status: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException}

export interface DeploySource {
  /** The base file and, with -d, the destination file (display paths). */
  files: string[]
  configFile: string
  destination?: string
  data: Record<string, unknown>
  positions: PositionMap
  /** Set when the hosts of accessories selected by these keys cannot be known (`kamal config` prints no role map). */
  hostsUnknown?: {selectors: string[]; reason: string}
  /** Key paths (`formatPath` strings) that already have a schema finding: checks built on them stay quiet. */
  invalid: Set<string>
  /** ERB output tags that rendered empty because an ENV variable was unset, to explain findings on those lines. */
  emptyEnv: ErbEmptyEnv[]
}

/**
 * `host: <%= ENV["BACKUP_HOST"] %>` with BACKUP_HOST unset renders `host:` (null), and the findings on that line
 * would blame the value. Say which variable is unset instead, and how to fix that.
 */
export function explainEmptyEnv(findings: Finding[], emptyEnv: readonly ErbEmptyEnv[]): Finding[] {
  if (emptyEnv.length === 0) return findings
  return findings.map((f) => {
    const tag = emptyEnv.find((e) => e.position.file === f.file && e.position.line === f.line)
    if (!tag || f.severity !== 'error') return f
    const names = tag.names
    const list = names.map((n) => `ENV["${n}"]`).join(' and ')
    return {
      ...f,
      message: `${f.message} (${list} ${names.length > 1 ? 'are' : 'is'} not set, so the ERB tag on this line rendered as nothing)`,
      suggestion: `set ${names.join(' and ')} in the environment before running kamal-backup (Kamal needs ${names.length > 1 ? 'them' : 'it'} too), or write ENV.fetch("${names[0]}") so that a missing value stops with a clear error`,
    }
  })
}

/** `config/deploy.yml` + `-d staging` → `config/deploy.staging.yml` (Kamal always uses .yml for the overlay). */
export function destinationFile(configFile: string, destination: string): string {
  const ext = extname(configFile)
  return join(dirname(configFile), `${basename(configFile, ext)}.${destination}.yml`)
}

export function readDeployConfig(options: DeployOptions): {source?: DeploySource; findings: Finding[]} {
  if (options.kamalConfig) return readKamalConfigOutput(options)
  const findings: Finding[] = []
  const base = resolve(options.cwd, options.configFile ?? DEFAULT_DEPLOY_FILE)
  const files = [base]
  if (options.destination) files.push(destinationFile(base, options.destination))
  // Kamal sets KAMAL_DESTINATION (or removes it) before rendering ERB.
  const env = kamalEnv(options.env, options.destination)
  const emptyEnv: ErbEmptyEnv[] = []
  const unread: {file: string; line: number}[] = []

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
    let deferred: ErbDeferred[] = []
    try {
      const rendered = renderErb(text, {file, env, deferUnsupportedOutput: true})
      for (const warning of rendered.warnings) findings.push(finding('warning', 'erb/comment-skipped', warning.position, '', warning.message, warning.suggestion))
      emptyEnv.push(...rendered.emptyEnv)
      deferred = rendered.deferred
      const parsed = parseYaml(rendered.output, file, {sourceLine: rendered.sourceLine})
      // Ruby we do not run, in a key kamal-backup never reads (builder.arch: <%= Kamal::Utils.docker_arch %>):
      // a warning, and that line's value is left out of the checks. Anywhere else: the located error.
      for (const tag of deferred) {
        const path = pathAtLine(parsed.positions, tag.position.line)
        const top = path?.[0]
        if (typeof top !== 'string' || READ_SECTIONS.has(top) || top.startsWith('x-')) throw erbUnsupported(tag)
        findings.push(finding('warning', 'erb/unsupported-unread', tag.position, path!, `${tag.message}; it is in ${formatPath(path!)}, which kamal-backup does not read, so it is left out`, `nothing to do for kamal-backup; run with --kamal-config to check the value Kamal sees`))
        unread.push({file, line: tag.position.line})
      }
      for (const d of parsed.diagnostics) findings.push(finding(d.severity, d.rule, d.position, d.path, d.message, d.suggestion))
      value = parsed.value
      if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
        findings.push(finding('error', 'deploy/not-a-mapping', top, '', `${file} must be a YAML mapping`, 'write it as `key: value` lines starting at column 1, e.g. `service: myapp` (as `kamal init` does)'))
        return {findings}
      }
      if (value === null || value === undefined) {
        // Kamal crashes on an empty destination file; say what is wrong instead.
        findings.push(finding('error', 'deploy/empty-file', top, '', `${file} is empty`, index === 0 ? 'add the Kamal configuration (`kamal init` writes one), or pass -c with the right file' : 'delete it or add the keys that differ for this destination'))
        return {findings}
      }
      if (index === 0) {
        merged = value as Record<string, unknown>
        positions.overlay(parsed.positions)
      } else {
        merged = deepMerge(merged!, value as Record<string, unknown>, [], positions, parsed.positions)
      }
    } catch (caught) {
      // A YAML error after leaving out an unevaluated tag is most likely that tag's doing: report the tag.
      const error = caught instanceof ConfigError && caught.code === 'yaml/syntax' && deferred[0] ? erbUnsupported(deferred[0]) : caught
      if (error instanceof ConfigError) {
        const loc = error.location
        findings.push(finding('error', isFindingRule(error.code) ? error.code : 'deploy/invalid', {file: loc?.file ?? file, line: loc?.line ?? 1, column: loc?.column ?? 1}, '', error.message, joinSuggestions(error.suggestions)))
        return {findings}
      }
      throw error
    }
  }
  const data = merged!
  const invalid = new Set<string>()
  if (!(validateDeployFile(data) as boolean)) {
    findings.push(
      ...schemaFindings((validateDeployFile as unknown as {errors: never}).errors, data, {
        schemas: {'kamal-deploy.schema.json': deploySchema},
        rootSchema: 'kamal-deploy.schema.json',
        positions,
        rulePrefix: 'deploy',
        patternHints: {service: 'Kamal service names use lowercase letters, digits, "_" and "-"'},
        invalid,
      }).filter((f) => !unread.some((u) => u.file === f.file && u.line === f.line)),
    )
  }
  const configFile = displayPath(base, options.cwd)
  if (data.require_destination === true && !options.destination) {
    findings.push(finding('error', 'deploy/require-destination', positions.nearest(['require_destination']), ['require_destination'], `${configFile} sets require_destination: true, so a destination is required`, 'pass -d <destination>, e.g. -d production'))
  }
  return {
    findings: explainEmptyEnv(findings, emptyEnv),
    source: {
      files: files.map((f) => displayPath(f, options.cwd)),
      configFile,
      ...(options.destination !== undefined && {destination: options.destination}),
      data,
      positions,
      invalid,
      emptyEnv,
    },
  }
}

/** The top-level keys kamal-backup reads (the model, init, the remote side). ERB elsewhere cannot change what it does. */
const READ_SECTIONS = new Set(['service', 'servers', 'accessories', 'ssh', 'secrets_path', 'volumes', 'require_destination'])

function erbUnsupported(tag: ErbDeferred): ConfigError {
  return new ConfigError(tag.message, {code: 'erb/unsupported', location: tag.position, suggestions: tag.suggestions})
}

/** The deepest key or item written on `line`. */
function pathAtLine(positions: PositionMap, line: number): YamlPath | undefined {
  let best: YamlPath | undefined
  for (const path of positions.paths()) {
    if (path.length === 0 || positions.get(path)?.line !== line) continue
    if (!best || path.length > best.length) best = path
  }
  return best
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

// ---------------------------------------------------------------------------------------------------------------
// --kamal-config: for configs whose ERB goes beyond the subset we evaluate, let Kamal itself render and merge them.
// `kamal config -c FILE [-d DEST] --version latest` prints YAML with symbol keys (`:roles:`): roles (names), hosts,
// service_with_version, ssh_options and the raw merged accessories (kamal-config.md 12.2, fallback B.1). It has no
// role → hosts map, so the hosts of a role/tag-selected accessory are only known when there is a single role.

export const defaultKamalRunner: KamalRunner = (args, {cwd, env}) => {
  return runSync(['kamal', ...args], {cwd, env: env as NodeJS.ProcessEnv})
}

export function readKamalConfigOutput(options: DeployOptions): {source?: DeploySource; findings: Finding[]} {
  const base = resolve(options.cwd, options.configFile ?? DEFAULT_DEPLOY_FILE)
  const configFile = displayPath(base, options.cwd)
  const top = {file: configFile, line: 1, column: 1}
  const args = ['config', '-c', configFile, ...(options.destination ? ['-d', options.destination] : []), '--version', 'latest']
  const command = `kamal ${args.join(' ')}`
  const result = (options.runKamal ?? defaultKamalRunner)(args, {cwd: options.cwd, env: options.env})
  if (result.error) {
    const missing = result.error.code === 'ENOENT'
    return {
      findings: [
        finding('error', 'deploy/kamal-config', top, '', missing ? `--kamal-config needs the kamal command, which is not on PATH` : `\`${command}\` could not be run: ${result.error.message}`, missing ? 'install Kamal (gem install kamal) or run without --kamal-config' : undefined),
      ],
    }
  }
  if (result.status !== 0) {
    const lines = result.stderr.trim().split('\n').filter(Boolean)
    const last = lines.find((l) => /ERROR|Error/.test(l)) ?? lines.at(-1) ?? `exit status ${result.status}`
    return {findings: [finding('error', 'deploy/kamal-config', top, '', `\`${command}\` failed: ${last.trim()}`, 'run that command yourself to see the whole error')]}
  }
  let value: unknown
  const label = `${command} (output)`
  try {
    value = parseYaml(result.stdout, label).value
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    value = undefined
  }
  const out = isPlainObject(value) ? value : undefined
  const serviceWithVersion = typeof out?.service_with_version === 'string' ? out.service_with_version : undefined
  if (!out || !serviceWithVersion) {
    return {findings: [finding('error', 'deploy/kamal-config', top, '', `\`${command}\` printed something that is not Kamal's config (no service_with_version)`, 'check that `kamal` is Kamal 2.x')]}
  }
  const findings: Finding[] = []
  const roleNames = Array.isArray(out.roles) ? out.roles.map(String) : []
  const hosts = Array.isArray(out.hosts) ? out.hosts.map(String) : []
  const ssh: Record<string, unknown> = {}
  if (isPlainObject(out.ssh_options)) {
    for (const key of ['user', 'port', 'proxy_command', 'keys', 'keys_only', 'key_data', 'config', 'forward_agent'] as const) {
      if (out.ssh_options[key] !== undefined && out.ssh_options[key] !== null) ssh[key] = out.ssh_options[key]
    }
    // A jump host is dumped as a Ruby object (!ruby/object:Net::SSH::Proxy::Jump) holding `jump_proxies`.
    const proxy = out.ssh_options.proxy
    if (typeof proxy === 'string') ssh.proxy = proxy
    else if (isPlainObject(proxy) && typeof proxy.jump_proxies === 'string') ssh.proxy = proxy.jump_proxies
    else if (isPlainObject(proxy) && typeof proxy.command_line_template === 'string') ssh.proxy_command = proxy.command_line_template
  }
  const data: Record<string, unknown> = {
    service: serviceWithVersion.replace(/-latest$/, ''),
    accessories: isPlainObject(out.accessories) ? out.accessories : {},
    ...(Object.keys(ssh).length > 0 && {ssh}),
    // The app's volumes, from `--volume X` pairs (init infers storage paths from them).
    ...(Array.isArray(out.volume_args) && {volumes: out.volume_args.map(String).filter((_, i, all) => all[i - 1] === '--volume')}),
    ...(roleNames.length === 1 ? {servers: {[roleNames[0]!]: hosts}} : {servers: Object.fromEntries(roleNames.map((r) => [r, []]))}),
  }
  return {
    findings,
    source: {
      files: [configFile, ...(options.destination ? [displayPath(destinationFile(base, options.destination), options.cwd)] : [])],
      configFile,
      ...(options.destination !== undefined && {destination: options.destination}),
      data,
      // Kamal's output has no source positions: findings point at the top of the config file.
      positions: new PositionMap(configFile),
      invalid: new Set(),
      emptyEnv: [],
      hostsUnknown:
        roleNames.length > 1
          ? {selectors: ['role', 'roles', 'tag', 'tags'], reason: `\`kamal config\` lists the roles (${roleNames.join(', ')}) but not their hosts`}
          : {selectors: ['tag', 'tags'], reason: '`kamal config` does not print host tags'},
    },
  }
}
