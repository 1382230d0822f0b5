// YAML as Kamal (Ruby's Psych) reads it (src/parse/yaml.ts): typing of plain scalars, duplicates, anchors and merge
// keys, located syntax errors, positions through ERB's sourceLine; then every deploy*.yml of the shared corpus.
import {test, describe} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {ConfigError} from '../../../src/errors.js'
import {renderErb} from '../../../src/kamal/erb.js'
import {PositionMap, parseYaml, readPlainScalar} from '../../../src/parse/yaml.js'
import type {ParsedYaml, YamlDiagnostic} from '../../../src/parse/yaml.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const CORPUS = join(REPO, '../shared/corpus')
const noCorpus = existsSync(CORPUS) ? false : 'shared corpus not present'

function parse(text: string, file = 'config/deploy.yml'): ParsedYaml {
  return parseYaml(text, file)
}

function at(parsed: ParsedYaml, path: (string | number)[]): string {
  const position = parsed.positions.get(path)
  return position ? `${position.file}:${position.line}:${position.column}` : 'none'
}

function rules(diagnostics: YamlDiagnostic[]): string[] {
  return diagnostics.map((d) => `${d.rule} ${d.path.join('.')} @${d.position.line}:${d.position.column}`)
}

function syntaxError(text: string, file = 'config/deploy.yml'): ConfigError {
  try {
    parseYaml(text, file)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a syntax error')
}

describe('parseYaml: values', () => {
  test('a plain mapping becomes plain JS with positions of keys and items', () => {
    const parsed = parse('service: app\nservers:\n  web:\n    - 1.1.1.1\n    - 1.1.1.2\nport: 3000\n')
    assert.deepEqual(parsed.value, {service: 'app', servers: {web: ['1.1.1.1', '1.1.1.2']}, port: 3000})
    assert.equal(Object.getPrototypeOf(parsed.value), Object.prototype)
    assert.equal(at(parsed, []), 'config/deploy.yml:1:1')
    assert.equal(at(parsed, ['service']), 'config/deploy.yml:1:1')
    assert.equal(at(parsed, ['servers', 'web']), 'config/deploy.yml:3:3')
    assert.equal(at(parsed, ['servers', 'web', 0]), 'config/deploy.yml:4:7')
    assert.equal(at(parsed, ['servers', 'web', 1]), 'config/deploy.yml:5:7')
    assert.equal(at(parsed, ['port']), 'config/deploy.yml:6:1')
    assert.deepEqual(parsed.diagnostics, [])
  })

  test('empty documents and comment-only documents are null', () => {
    assert.equal(parse('').value, null)
    assert.equal(parse('# nothing here\n\n').value, null)
    assert.equal(parse('---\n').value, null)
  })

  test('flow collections, block scalars and quoted scalars', () => {
    const parsed = parse('a: [1, "2", x]\nb: {k: v, n: ~}\nc: |\n  line1\n  line2\nd: >\n  folded\n  text\ne: \'yes\'\nf: "22:22"\n')
    assert.deepEqual(parsed.value, {a: [1, '2', 'x'], b: {k: 'v', n: null}, c: 'line1\nline2\n', d: 'folded text\n', e: 'yes', f: '22:22'})
    assert.equal(at(parsed, ['a', 2]), 'config/deploy.yml:1:13')
    assert.equal(at(parsed, ['b', 'n']), 'config/deploy.yml:2:11')
    assert.deepEqual(parsed.diagnostics, [])
  })

  test('booleans: yes/no/on/off/true/false in Psych case forms; y and n stay strings', () => {
    const parsed = parse(
      'a: yes\nb: No\nc: ON\nd: off\ne: True\nf: FALSE\ng: y\nh: n\ni: Y\nj: N\nk: yES\nl: truthy\nm: nope\n',
    )
    assert.deepEqual(parsed.value, {
      a: true, b: false, c: true, d: false, e: true, f: false,
      g: 'y', h: 'n', i: 'Y', j: 'N', k: true, l: 'truthy', m: 'nope',
    })
  })

  test('null forms', () => {
    assert.deepEqual(parse('a: ~\nb: null\nc: NULL\nd: Null\ne:\nf: nulls\n').value, {a: null, b: null, c: null, d: null, e: null, f: 'nulls'})
  })

  test('numbers as Psych reads them', () => {
    const parsed = parse('a: 1_000\nb: 40_000_000\nc: 2.10\nd: 0x1F\ne: -12\nf: 0\ng: 07\nh: 1.0e+5\ni: 1.2e5\nj: 08\nk: 0b101\nl: .5\n')
    assert.deepEqual(parsed.value, {a: 1000, b: 40000000, c: 2.1, d: 31, e: -12, f: 0, g: 7, h: 100000, i: '1.2e5', j: '08', k: 5, l: 0.5})
    assert.deepEqual(parsed.diagnostics, [])
  })

  test('unquoted N:M with later parts 0-59 is a base-60 integer, with a warning', () => {
    const parsed = parse('ports:\n  - 22:22\n  - 2222:22\n  - 53:53\nttl: 1:2:3\nneg: -1:30\n')
    assert.deepEqual(parsed.value, {ports: [80520, 8000520, 193980], ttl: 3723, neg: -1800})
    assert.deepEqual(rules(parsed.diagnostics), [
      'yaml/sexagesimal ports.0 @2:5',
      'yaml/sexagesimal ports.1 @3:5',
      'yaml/sexagesimal ports.2 @4:5',
      'yaml/sexagesimal ttl @5:6',
      'yaml/sexagesimal neg @6:6',
    ])
    const first = parsed.diagnostics[0]!
    assert.equal(first.severity, 'warning')
    assert.equal(first.message, "22:22 is read as the base-60 number 80520 (Kamal's YAML parser does the same)")
    assert.equal(first.suggestion, 'Quote it if you mean the text: "22:22"')
    assert.deepEqual(first.position, {file: 'config/deploy.yml', line: 2, column: 5})
  })

  test('80:80, 8080:80 and 3306:3306 stay strings without warnings', () => {
    const parsed = parse('ports: [80:80, 8080:80, 3306:3306, "22:22"]\n')
    assert.deepEqual(parsed.value, {ports: ['80:80', '8080:80', '3306:3306', '22:22']})
    assert.deepEqual(parsed.diagnostics, [])
  })

  test('leading-zero integers are octal, with a warning; quoted ones stay strings', () => {
    const parsed = parse('files:\n  mode: 0755\n  quoted: "0755"\n  tagged: !!str 0644\n')
    assert.deepEqual(parsed.value, {files: {mode: 493, quoted: '0755', tagged: '0644'}})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/octal files.mode @2:9'])
    assert.equal(parsed.diagnostics[0]!.message, "0755 starts with 0, so it is read as the octal number 493 (Kamal's YAML parser does the same)")
    assert.match(parsed.diagnostics[0]!.suggestion!, /"0755"/)
  })

  test('commas in numbers are ignored like Psych, with a warning', () => {
    const parsed = parse('a: 1,000\nb: 1,2\n')
    assert.deepEqual(parsed.value, {a: 1000, b: 12})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/comma-number a @1:4', 'yaml/comma-number b @2:4'])
  })

  test('a leading colon (Ruby symbol) is dropped', () => {
    assert.deepEqual(parse('hooks_output: :verbose\nport: :3000\nquoted: ":kept"\n').value, {hooks_output: 'verbose', port: '3000', quoted: ':kept'})
  })

  test('dates and timestamps stay strings', () => {
    const parsed = parse('a: 2024-01-01\nb: 2024-01-01 10:00:00\nc: !!timestamp 2024-02-03\n')
    assert.deepEqual(parsed.value, {a: '2024-01-01', b: '2024-01-01 10:00:00', c: '2024-02-03'})
  })

  test('keys get the same typing, as strings', () => {
    assert.deepEqual(parse('yes: 1\n80: 2\n"on": 3\n').value, {true: 1, 80: 2, on: 3})
  })

  test('a key named __proto__ is an ordinary key', () => {
    const value = parse('__proto__: 1\nconstructor: 2\n').value as Record<string, unknown>
    assert.deepEqual(Object.keys(value), ['__proto__', 'constructor'])
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
  })
})

describe('parseYaml: duplicates, anchors and merge keys', () => {
  test('duplicate keys: the last wins, with a warning naming the key and the earlier line', () => {
    const parsed = parse('service: one\nimage: app\nservice: two\n')
    assert.deepEqual(parsed.value, {service: 'two', image: 'app'})
    assert.equal(parsed.diagnostics.length, 1)
    const warning = parsed.diagnostics[0]!
    assert.equal(warning.rule, 'yaml/duplicate-key')
    assert.equal(warning.severity, 'warning')
    assert.equal(warning.message, 'Duplicate key "service" (first on line 1): the last one wins, as in Kamal')
    assert.deepEqual(warning.path, ['service'])
    assert.deepEqual(warning.position, {file: 'config/deploy.yml', line: 3, column: 1})
    assert.equal(at(parsed, ['service']), 'config/deploy.yml:3:1')
  })

  test('a duplicate key replaces the positions of the earlier subtree', () => {
    const parsed = parse('env:\n  clear:\n    A: 1\n    B: 2\nenv:\n  secret: [X]\n')
    assert.deepEqual(parsed.value, {env: {secret: ['X']}})
    assert.equal(at(parsed, ['env', 'clear', 'A']), 'none')
    assert.equal(at(parsed, ['env', 'secret', 0]), 'config/deploy.yml:6:12')
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/duplicate-key env @5:1'])
  })

  test('scalar anchors and aliases', () => {
    const parsed = parse('a: &h 1.2.3.4\nb: *h\nc: [*h]\n')
    assert.deepEqual(parsed.value, {a: '1.2.3.4', b: '1.2.3.4', c: ['1.2.3.4']})
  })

  test('warnings inside an anchored node are reported once, not per alias', () => {
    const parsed = parse('x: &p\n  port: 22:22\na: *p\nb: *p\n')
    assert.deepEqual(parsed.value, {x: {port: 80520}, a: {port: 80520}, b: {port: 80520}})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/sexagesimal x.port @2:9'])
  })

  test('merge keys are shallow, explicit keys win, and merged keys keep their definition positions', () => {
    const text = 'x-web: &web\n  proxy:\n    ssl: true\n  hosts: [a]\nservers:\n  web:\n    <<: *web\n    hosts: [b, c]\n'
    const parsed = parse(text)
    assert.deepEqual(parsed.value, {
      'x-web': {proxy: {ssl: true}, hosts: ['a']},
      servers: {web: {proxy: {ssl: true}, hosts: ['b', 'c']}},
    })
    assert.equal(at(parsed, ['servers', 'web', 'proxy']), 'config/deploy.yml:2:3')
    assert.equal(at(parsed, ['servers', 'web', 'proxy', 'ssl']), 'config/deploy.yml:3:5')
    assert.equal(at(parsed, ['servers', 'web', 'hosts']), 'config/deploy.yml:8:5')
    assert.equal(at(parsed, ['servers', 'web', 'hosts', 1]), 'config/deploy.yml:8:16')
    assert.deepEqual(parsed.diagnostics, [])
  })

  test('a << merge replaces a key written before it (Psych merges in document order), with a warning', () => {
    // Psych's revive_hash: `hash.merge! val` at the << line, so the merge wins over line 3 and loses to line 5.
    const parsed = parse('base: &b {k: 1, j: 2, h: 3}\nm:\n  k: 5\n  <<: *b\n  h: 9\n')
    assert.deepEqual((parsed.value as {m: unknown}).m, {k: 1, j: 2, h: 9})
    assert.equal(at(parsed, ['m', 'k']), 'config/deploy.yml:1:11', 'k now comes from the anchor')
    assert.equal(at(parsed, ['m', 'h']), 'config/deploy.yml:5:3')
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/merge-order m.k @4:3'])
    const warning = parsed.diagnostics[0]!
    assert.match(warning.message, /"k" is set on line 3, and the << merge after it replaces that value/)
    assert.match(warning.suggestion!, /Put `<<:` first/)
  })

  test('the auditor\'s case: host before <<: *backup takes the anchor\'s host, as Kamal does', () => {
    const parsed = parse('x-backup: &backup\n  host: 10.9.9.9\n  image: kb\naccessories:\n  backup:\n    host: 192.0.2.10\n    <<: *backup\n')
    assert.deepEqual((parsed.value as {accessories: {backup: unknown}}).accessories.backup, {host: '10.9.9.9', image: 'kb'})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/merge-order accessories.backup.host @7:5'])
  })

  test('two << keys: the later merge wins over the earlier one', () => {
    const parsed = parse('a: &a {k: 1}\nb: &b {k: 2}\nc:\n  <<: *a\n  <<: *b\n')
    assert.deepEqual((parsed.value as {c: unknown}).c, {k: 2})
  })

  test('<< with a scalar stays an ordinary key, with a warning', () => {
    const parsed = parse('a:\n  <<: 1\n')
    assert.deepEqual(parsed.value, {a: {'<<': 1}})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/merge-key a.<< @2:3'])
  })

  test('deploy_with_extensions.yml (inline copy)', () => {
    const text = [
      '',
      'x-web: &web',
      '  proxy: {}',
      '',
      'service: app',
      'servers:',
      '  web_chicago:',
      '    <<: *web',
      '    hosts:',
      '      - 1.1.1.1',
      '  web_tokyo:',
      '    <<: *web',
      '    hosts:',
      '      - 1.1.1.3',
      'primary_role: web_tokyo',
      '',
    ].join('\n')
    const parsed = parse(text)
    assert.deepEqual(parsed.value, {
      'x-web': {proxy: {}},
      service: 'app',
      servers: {web_chicago: {proxy: {}, hosts: ['1.1.1.1']}, web_tokyo: {proxy: {}, hosts: ['1.1.1.3']}},
      primary_role: 'web_tokyo',
    })
    assert.equal(at(parsed, ['servers', 'web_tokyo', 'proxy']), 'config/deploy.yml:3:3')
    assert.equal(at(parsed, ['servers', 'web_tokyo', 'hosts', 0]), 'config/deploy.yml:14:9')
  })

  test('an alias to an undefined anchor is a syntax error at the alias', () => {
    const error = syntaxError('a: 1\nb: *nope\n')
    assert.equal(error.code, 'yaml/syntax')
    assert.equal(error.message, 'Unknown alias *nope: no anchor &nope is defined before it')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 2, column: 4})
  })

  test('an alias inside its own anchor is an error, not a hang', () => {
    const error = syntaxError('a: &r\n  - *r\n')
    assert.equal(error.code, 'yaml/syntax')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 2, column: 5})
  })

  test('alias bombs stop with an error', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for (let index = 1; index <= 8; index++) {
      lines.push(`a${index}: &a${index} [${Array.from({length: 10}, () => `*a${index - 1}`).join(', ')}]`)
    }
    const error = syntaxError(lines.join('\n') + '\n')
    assert.equal(error.code, 'yaml/syntax')
    assert.match(error.message, /more than 200000 YAML nodes/)
  })
})

describe('parseYaml: syntax errors', () => {
  test('tabs used for indentation', () => {
    const error = syntaxError('service: app\nservers:\n\tweb: [1.1.1.1]\n')
    assert.equal(error.code, 'yaml/syntax')
    assert.equal(error.message, 'Invalid YAML in config/deploy.yml: Tabs are not allowed as indentation')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 3, column: 1})
    assert.deepEqual(error.suggestions, ['Indent with spaces: YAML does not allow tabs for indentation'])
  })

  test('unclosed double quote points at the opening quote', () => {
    const error = syntaxError('service: app\nimage: "dhh/app\nregistry:\n  server: x\n')
    assert.equal(error.message, 'Unclosed double quote in config/deploy.yml: the string starting at line 2, column 8 never ends')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 2, column: 8})
    assert.deepEqual(error.suggestions, ['Add the closing " (write \\" for a quote inside the value)'])
  })

  test('unclosed single quote', () => {
    const error = syntaxError("a: 1\nb: 'it\n")
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 2, column: 4})
    assert.match(error.message, /^Unclosed single quote/)
  })

  test('bad indentation', () => {
    const error = syntaxError('servers:\n  web: 1\n job: 2\n')
    assert.equal(error.message, 'Invalid YAML in config/deploy.yml: All mapping items must start at the same column')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 3, column: 1})
    assert.match(error.suggestions[0]!, /indentation/)
  })

  test('a value containing ": " unquoted', () => {
    const error = syntaxError('labels: traefik: on\n')
    assert.deepEqual(error.location, {file: 'config/deploy.yml', line: 1, column: 9})
    assert.deepEqual(error.suggestions, ['A value that contains ": " must be quoted, e.g. key: "a: b"'])
  })

  test('the message is one line with no stack dump of other errors', () => {
    const error = syntaxError('a: "x\nb: [\nc: {\n')
    assert.equal(error.message.includes('\n'), false)
    assert.equal(error.suggestions.length, 1)
  })
})

describe('parseYaml: sourceLine and multiple documents', () => {
  test('positions, diagnostics and errors are mapped through sourceLine', () => {
    const sourceLine = (line: number) => line + 10
    const parsed = parseYaml('a: 1\nb: 22:22\n', 'deploy.yml', {sourceLine})
    assert.deepEqual(parsed.positions.get(['b']), {file: 'deploy.yml', line: 12, column: 1})
    assert.equal(parsed.diagnostics[0]!.position.line, 12)
    try {
      parseYaml('a: 1\n\tb: 2\n', 'deploy.yml', {sourceLine})
      assert.fail('expected an error')
    } catch (error) {
      assert.ok(error instanceof ConfigError)
      assert.equal(error.location?.line, 12)
    }
  })

  test('works with renderErb: positions point at the source line after a multi-line tag', () => {
    const text = 'a: <%= "x\\n  y" %>\nb: <%# comment\nmore %>2\nc: 22:22\n'
    const rendered = renderErb(text, {file: 'deploy.yml', env: {}})
    const parsed = parseYaml(rendered.output, 'deploy.yml', {sourceLine: rendered.sourceLine})
    assert.deepEqual(parsed.value, {a: 'x y', b: 2, c: 80520})
    assert.equal(parsed.positions.get(['b'])?.line, 2)
    assert.equal(parsed.positions.get(['c'])?.line, 4)
    assert.equal(parsed.diagnostics[0]!.position.line, 4)
  })

  test('only the first document is read, with a warning', () => {
    const parsed = parse('a: 1\n---\nb: 2\n')
    assert.deepEqual(parsed.value, {a: 1})
    assert.deepEqual(rules(parsed.diagnostics), ['yaml/multiple-documents  @2:1'])
  })
})

describe('PositionMap', () => {
  const pos = (line: number, file = 'a.yml') => ({file, line, column: 1})

  test('get is exact; nearest walks up to the deepest known ancestor, else line 1 of the file', () => {
    const map = new PositionMap('a.yml')
    map.set([], pos(1), 'map')
    map.set(['servers'], pos(2), 'map')
    map.set(['servers', 'web'], pos(3), 'seq')
    assert.deepEqual(map.get(['servers', 'web']), pos(3))
    assert.equal(map.get(['servers', 'web', 0]), undefined)
    assert.deepEqual(map.nearest(['servers', 'web', 0, 'x']), pos(3))
    assert.deepEqual(map.nearest(['accessories']), pos(1))
    assert.deepEqual(new PositionMap('b.yml').nearest(['x']), {file: 'b.yml', line: 1, column: 1})
  })

  test('without a file, nearest falls back to the file of the recorded root', () => {
    const map = new PositionMap()
    assert.deepEqual(map.nearest(['x']), {file: '', line: 1, column: 1})
    map.overlay(parse('a: 1\n', 'config/deploy.yml').positions)
    assert.deepEqual(map.nearest(['x']), {file: 'config/deploy.yml', line: 1, column: 1})
  })

  test('overlay replaces the subtree at a path, as a deep merge does', () => {
    const base = parse('servers:\n  web: [a, b, c]\nenv:\n  A: 1\n', 'config/deploy.yml')
    const over = parse('servers:\n  web: [x]\n', 'config/deploy.production.yml')
    const positions = new PositionMap()
    positions.overlay(base.positions)
    positions.overlay(over.positions, ['servers', 'web'])
    assert.deepEqual(positions.get(['servers', 'web']), {file: 'config/deploy.production.yml', line: 2, column: 3})
    assert.deepEqual(positions.get(['servers', 'web', 0]), {file: 'config/deploy.production.yml', line: 2, column: 9})
    assert.equal(positions.get(['servers', 'web', 2]), undefined)
    // Untouched parts keep the base file's positions.
    assert.deepEqual(positions.get(['servers']), {file: 'config/deploy.yml', line: 1, column: 1})
    assert.deepEqual(positions.get(['env', 'A']), {file: 'config/deploy.yml', line: 4, column: 3})
  })

  test('overlay with a path that other does not have leaves ours alone', () => {
    const map = new PositionMap('a.yml')
    map.set(['a'], pos(1))
    map.overlay(new PositionMap('b.yml'), ['a'])
    assert.deepEqual(map.get(['a']), pos(1))
  })
})

describe('readPlainScalar', () => {
  test('Psych base-60 weights: N:M is N*3600 + M*60', () => {
    assert.equal(readPlainScalar('1:00').value, 3600)
    assert.equal(readPlainScalar('0:01').value, 60)
    assert.equal(readPlainScalar('1:30.5').value, 3600 + 30.5 * 60)
  })

  test('special floats and odd shapes', () => {
    assert.equal(readPlainScalar('.inf').value, Number.POSITIVE_INFINITY)
    assert.equal(readPlainScalar('-.Inf').value, Number.NEGATIVE_INFINITY)
    assert.ok(Number.isNaN(readPlainScalar('.NaN').value))
    assert.equal(readPlainScalar('.').value, '.')
    assert.equal(readPlainScalar('1.2.3.4').value, '1.2.3.4')
    assert.equal(readPlainScalar('-').value, '-')
  })
})

// ---------------------------------------------------------------------------------------------------------------

function corpusDeployFiles(): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (/^deploy.*\.yml$/.test(name)) out.push(path)
    }
  }
  walk(CORPUS)
  return out
}

// The ERB tags in the corpus that kamal-backup cannot evaluate (covered in erb.test.ts), replaced so the YAML
// underneath can be checked too.
function withoutUnsupportedErb(text: string): string {
  return text
    .replace(/<%= Kamal::Utils\.docker_arch[^%]*%>/g, 'amd64')
    .replace(/<%= `git rev-parse HEAD` %>/g, 'abc123')
}

describe('corpus', {skip: noCorpus}, () => {
  test('every deploy*.yml parses (after ERB) without errors or warnings', () => {
    const files = corpusDeployFiles()
    assert.ok(files.length >= 50, `found ${files.length} files`)
    for (const path of files) {
      const file = relative(CORPUS, path)
      const rendered = renderErb(withoutUnsupportedErb(readFileSync(path, 'utf8')), {file, env: {}})
      const parsed = parseYaml(rendered.output, file, {sourceLine: rendered.sourceLine})
      assert.equal(typeof parsed.value, 'object', file)
      assert.notEqual(parsed.value, null, file)
      assert.deepEqual(parsed.diagnostics, [], file)
      assert.ok(parsed.positions.size >= 3, file)
    }
  })

  test('deploy_with_extensions.yml: anchors and merge keys', () => {
    const file = 'kamal-fixtures/deploy_with_extensions.yml'
    const parsed = parseYaml(readFileSync(join(CORPUS, file), 'utf8'), file)
    const value = parsed.value as {servers: Record<string, unknown>; primary_role: string}
    assert.deepEqual(value.servers, {
      web_chicago: {proxy: {}, hosts: ['1.1.1.1', '1.1.1.2']},
      web_tokyo: {proxy: {}, hosts: ['1.1.1.3', '1.1.1.4']},
    })
    assert.equal(value.primary_role, 'web_tokyo')
    assert.deepEqual(parsed.positions.get(['servers', 'web_chicago', 'proxy']), {file, line: 3, column: 3})
    assert.deepEqual(parsed.positions.get(['servers', 'web_tokyo', 'hosts', 1]), {file, line: 17, column: 9})
  })

  test('deploy.erb.yml renders and parses with the registry credentials from ERB', () => {
    const file = 'kamal-fixtures/deploy.erb.yml'
    const rendered = renderErb(readFileSync(join(CORPUS, file), 'utf8'), {file, env: {}})
    const parsed = parseYaml(rendered.output, file, {sourceLine: rendered.sourceLine})
    const registry = (parsed.value as {registry: Record<string, unknown>}).registry
    assert.equal(registry.username, 'my-user')
    assert.equal(registry.password, 'my-password')
    assert.deepEqual(parsed.positions.get(['registry', 'password']), {file, line: 11, column: 3})
  })
})
