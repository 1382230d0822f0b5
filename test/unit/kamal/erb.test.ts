import {test, describe} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {ConfigError} from '../../../src/errors.js'
import {endsInYamlComment, renderErb} from '../../../src/kamal/erb.js'
import type {ErbResult} from '../../../src/kamal/erb.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const CORPUS = join(REPO, '../shared/corpus')
const noCorpus = existsSync(CORPUS) ? false : 'shared corpus not present'

const ENV = {HOST: '1.2.3.4', PORT: '3000', EMPTY: '', BLANK: ' \t', PADDED: '  value \n', MIXED: 'MiXeD', NUM: ' 42abc'}
const FILE = 'config/deploy.yml'

function render(text: string, env: Record<string, string | undefined> = ENV): ErbResult {
  return renderErb(text, {file: FILE, env})
}

function out(text: string, env?: Record<string, string | undefined>): string {
  return render(text, env).output
}

function failure(text: string, env: Record<string, string | undefined> = ENV): ConfigError {
  try {
    render(text, env)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail(`expected ${JSON.stringify(text)} to fail`)
}

function lines(result: ErbResult, count: number): number[] {
  return Array.from({length: count}, (_, index) => result.sourceLine(index + 1))
}

const FALLBACKS = [
  'Rewrite it with an environment variable, e.g. <%= ENV["NAME"] %> or <%= ENV.fetch("NAME", "default") %>, and set NAME before running kamal-backup',
  'Or run with --kamal-config to read the output of `kamal config` instead (needs kamal installed)',
]

describe('renderErb: text and tags', () => {
  test('text without tags is unchanged', () => {
    const result = render('service: app\n# comment\n')
    assert.equal(result.output, 'service: app\n# comment\n')
    assert.equal(result.usedErb, false)
    assert.deepEqual(result.warnings, [])
    assert.deepEqual(lines(result, 3), [1, 2, 3])
  })

  test('<%# comments %> and empty or comment-only <% %> render nothing', () => {
    const result = render('a: 1<%# note %>\n<% %>b: 2\n<% # ruby comment\n   # another %>c: 3\n')
    assert.equal(result.output, 'a: 1\nb: 2\nc: 3\n')
    assert.equal(result.usedErb, true)
    assert.deepEqual(lines(result, 3), [1, 2, 3])
  })

  test('<%% is a literal <% and does not count as ERB', () => {
    const result = render('a: "<%%= x %>"\n')
    assert.equal(result.output, 'a: "<%= x %>"\n')
    assert.equal(result.usedErb, false)
  })

  test('-%> swallows the following newline (a: 1b: 2)', () => {
    const result = render('a: <%= 1 -%>\nb: 2\n')
    assert.equal(result.output, 'a: 1b: 2\n')
    assert.deepEqual(lines(result, 2), [1, 3])
  })

  test('<%- removes the indentation before it; -%> on a comment line removes the line', () => {
    assert.equal(out('x:\n  <%- # nothing -%>\n  y: 1\n'), 'x:\n  y: 1\n')
    assert.equal(out('a: 1 <%- # stays -%>\nb: 2\n'), 'a: 1 b: 2\n')
    assert.equal(out('x:\n  <%-= ENV["HOST"] %>\n'), 'x:\n1.2.3.4\n')
  })

  test('sourceLine stays exact across multi-line output, multi-line tags and trimmed newlines', () => {
    const text = 'a: <%= "x\\ny" %>\nb: <%# one\ntwo\nthree %>2\nc: <%= 3 -%>\nd: 4\ne: 5\n'
    const result = render(text)
    assert.equal(result.output, 'a: x\ny\nb: 2\nc: 3d: 4\ne: 5\n')
    // rendered: 1 "a: x" (1), 2 "y" (tag on 1), 3 "b: 2" (2), 4 "c: 3d: 4" (5), 5 "e: 5" (7), 6 "" (8)
    assert.deepEqual(lines(result, 6), [1, 1, 2, 5, 7, 8])
    assert.equal(result.sourceLine(99), 8)
    assert.equal(result.sourceLine(0), 1)
  })

  test('tags inside a YAML comment line are evaluated when supported', () => {
    assert.equal(out('# host: <%= ENV["HOST"] %>\n'), '# host: 1.2.3.4\n')
  })

  test('an unclosed tag is an erb-syntax error at the <%', () => {
    const error = failure('a: 1\nb: <%= ENV["HOST"]\nc: 2\n')
    assert.equal(error.code, 'erb/syntax')
    assert.equal(error.message, 'ERB tag <%= ENV["HOST"] in config/deploy.yml is never closed with %>')
    assert.deepEqual(error.location, {file: FILE, line: 2, column: 4})
  })
})

describe('renderErb: expressions', () => {
  test('ENV["X"] and ENV[\'X\']; unset renders empty', () => {
    assert.equal(out('a: <%= ENV["HOST"] %>\nb: <%= ENV[\'PORT\'] %>\nc: <%= ENV["NOPE"] %>\n'), 'a: 1.2.3.4\nb: 3000\nc: \n')
  })

  test('ENV.fetch with a value, a default argument, or a default block', () => {
    assert.equal(out('<%= ENV.fetch("HOST") %>'), '1.2.3.4')
    assert.equal(out('<%= ENV.fetch("NOPE", "fallback") %>'), 'fallback')
    assert.equal(out('<%= ENV.fetch("HOST", "fallback") %>'), '1.2.3.4')
    assert.equal(out('<%= ENV.fetch("NOPE") { "from block" } %>'), 'from block')
    assert.equal(out('<%= ENV.fetch("NOPE") { ENV["HOST"] } %>'), '1.2.3.4')
    assert.equal(out('<%= ENV.fetch("NOPE", nil) %>'), '')
    assert.equal(out('<%= ENV.fetch "NOPE", "no parens" %>'), 'no parens')
    assert.equal(out('<%= ENV.fetch("EMPTY", "d") %>'), '')
  })

  test('ENV.fetch of an unset variable fails like KeyError, with the location', () => {
    const error = failure('service: app\nssh:\n  user: <%= ENV.fetch("SSH_USER") %>\n')
    assert.equal(error.code, 'erb/env-missing')
    assert.equal(error.message, 'ERB tag <%= ENV.fetch("SSH_USER") %> raised an error: ENV.fetch("SSH_USER") failed: key not found: "SSH_USER" (KeyError)')
    assert.deepEqual(error.location, {file: FILE, line: 3, column: 9})
    assert.deepEqual(error.suggestions, [
      'Set SSH_USER in the environment before running kamal-backup (Kamal needs it too)',
      'Or give it a default in the config: ENV.fetch("SSH_USER", "default")',
    ])
  })

  test('ENV.key? and friends', () => {
    assert.equal(out('<%= ENV.key?("HOST") %> <%= ENV.key?("NOPE") %> <%= ENV.has_key?("EMPTY") %> <%= ENV.include?("NOPE") %>'), 'true false true false')
  })

  test('|| uses Ruby truthiness: only nil and false fall through', () => {
    assert.equal(out('<%= ENV["NOPE"] || "d" %>|<%= ENV["EMPTY"] || "d" %>|<%= ENV["NOPE"] || ENV["ALSO_NOPE"] || "last" %>'), 'd||last')
    assert.equal(out('<%= false || "f" %>|<%= nil || nil %>|<%= ENV["HOST"] || ENV.fetch("NOPE") %>'), 'f||1.2.3.4')
  })

  test('&&, ==, != and !', () => {
    assert.equal(out('<%= ENV["HOST"] && "both" %>|<%= ENV["NOPE"] && "both" %>|<%= ENV["PORT"] == "3000" %>|<%= 1 == 1.0 %>|<%= "1" == 1 %>|<%= ENV["PORT"] != "3000" %>|<%= !ENV["NOPE"] %>'), 'both||true|true|false|false|true')
  })

  test('ternaries, nested and with parentheses', () => {
    assert.equal(out('<%= ENV.key?("HOST") ? "yes" : "no" %>'), 'yes')
    assert.equal(out('<%= ENV["NOPE"] ? "a" : ENV["HOST"] ? "b" : "c" %>'), 'b')
    assert.equal(out('<%= (ENV["NOPE"] || "X").downcase %>'), 'x')
    assert.equal(out('<%= ENV["KAMAL_DESTINATION"] == "production" ? "prod.example.com" : "staging.example.com" %>', {KAMAL_DESTINATION: 'production'}), 'prod.example.com')
  })

  test('methods: strip chomp to_s to_i downcase upcase presence', () => {
    assert.equal(out('[<%= ENV["PADDED"].strip %>]'), '[value]')
    assert.equal(out('[<%= ENV["PADDED"].chomp %>]'), '[  value ]')
    assert.equal(out('[<%= "a\\r\\n".chomp %>][<%= "a\\n\\n".chomp %>]'), '[a][a\n]')
    assert.equal(out('<%= ENV["NOPE"].to_s %>|<%= 12.to_s %>|<%= nil.to_s %>'), '|12|')
    assert.equal(out('<%= ENV["NUM"].to_i %>|<%= "abc".to_i %>|<%= ENV["NOPE"].to_i %>|<%= 3.9.to_i %>|<%= "-1_000x".to_i %>'), '42|0|0|3|-1000')
    assert.equal(out('<%= ENV["MIXED"].downcase %>|<%= ENV["MIXED"].upcase %>'), 'mixed|MIXED')
    assert.equal(out('<%= ENV["EMPTY"].presence || "p1" %>|<%= ENV["BLANK"].presence || "p2" %>|<%= ENV["HOST"].presence || "p3" %>|<%= ENV["NOPE"].presence || "p4" %>'), 'p1|p2|1.2.3.4|p4')
    assert.equal(out('<%= ENV["HOST"].strip() %>|<%= ENV["NOPE"]&.strip %>|<%= ENV["PADDED"]&.strip %>'), '1.2.3.4||value')
  })

  test('a string method on nil fails like NoMethodError', () => {
    const error = failure('a: 1\nb: <%= ENV["NOPE"].strip %>\n')
    assert.equal(error.code, 'erb/raised')
    assert.equal(error.message, 'ERB tag <%= ENV["NOPE"].strip %> raised an error: undefined method \'strip\' for nil (NoMethodError)')
    assert.deepEqual(error.location, {file: FILE, line: 2, column: 4})
    assert.equal(failure('<%= 12.upcase %>').message, "ERB tag <%= 12.upcase %> raised an error: undefined method 'upcase' for an instance of Integer (NoMethodError)")
  })

  test('string literals: escapes and #{} interpolation', () => {
    assert.equal(out(`<%= 'it\\'s \\n #{x}' %>`), "it's \\n #{x}")
    assert.equal(out('<%= "tab\\there \\"q\\" \\\\ \\#{no} \\u00e9\\u{1F600}" %>'), 'tab\there "q" \\ #{no} é😀')
    assert.equal(out('<%= "#{ENV["HOST"]}:#{ENV.fetch("PORT")}" %>'), '1.2.3.4:3000')
    assert.equal(out('<%= "#{ENV["NOPE"] || "d"}-#{"in #{"nested"}"}" %>'), 'd-in nested')
    assert.equal(out('<%= "" %>|<%= "plain" %>'), '|plain')
  })

  test('numbers, nil, true and false render like Ruby to_s', () => {
    assert.equal(out('<%= 42 %>|<%= -3 %>|<%= 1_000 %>|<%= 1.5 %>|<%= 2.0 %>|<%= 1e20 %>|<%= 0.00001 %>|<%= nil %>|<%= true %>|<%= false %>|<%= %>'), '42|-3|1000|1.5|2.0|1.0e+20|1.0e-05||true|false|')
  })

  test('ENV with a non-string name is a TypeError', () => {
    const error = failure('<%= ENV[nil] %>')
    assert.equal(error.code, 'erb/raised')
    assert.equal(error.message, 'ERB tag <%= ENV[nil] %> raised an error: no implicit conversion of nil into String (TypeError)')
  })
})

describe('renderErb: unsupported Ruby', () => {
  const cases: [string, string, number, string][] = [
    ['arch: <%= Kamal::Utils.docker_arch %>\n', '<%= Kamal::Utils.docker_arch %>', 7, 'Kamal::Utils.docker_arch is Ruby code that kamal-backup does not run'],
    ['sha: <%= `git rev-parse HEAD` %>\n', '<%= `git rev-parse HEAD` %>', 6, 'shell commands in backticks are not run by kamal-backup'],
    ['pw: <%= %x(aws ecr get-login-password).strip %>\n', '<%= %x(aws ecr get-login-password).strip %>', 5, 'shell commands (%x) are not run by kamal-backup'],
    ['v: <%= File.read(".ruby-version").strip %>\n', '<%= File.read(".ruby-version").strip %>', 4, 'File.read is Ruby code that kamal-backup does not run'],
    ['<% require "dotenv"; Dotenv.load(".env") %>\n', '<% require "dotenv"; Dotenv.load(".env") %>', 1, '<% … %> code (if/else, assignments, require, …) is not supported; only <%= … %> expressions are'],
    ['x: <%= Dotenv.load(".env") %>\n', '<%= Dotenv.load(".env") %>', 4, 'Dotenv.load is Ruby code that kamal-backup does not run'],
    ['x: <%= require "dotenv" %>\n', '<%= require "dotenv" %>', 4, 'require is Ruby code that kamal-backup does not run'],
    ['x: <%= ENV["HOSTS"].split(",") %>\n', '<%= ENV["HOSTS"].split(",") %>', 4, 'the method .split is not supported (supported: .strip .chomp .to_s .to_i .downcase .upcase .presence)'],
    ['x: <%= ENV.to_h %>\n', '<%= ENV.to_h %>', 4, 'ENV.to_h is not supported (use ENV["NAME"], ENV.fetch or ENV.key?)'],
    ['x: <%= host = "a" %>\n', '<%= host = "a" %>', 4, 'assignments are not supported'],
    ['<% if ENV["X"] -%>\na: 1\n<% end -%>\n', '<% if ENV["X"] -%>', 1, '<% … %> code (if/else, assignments, require, …) is not supported; only <%= … %> expressions are'],
    ['x: <%= ENV["A"] + "b" %>\n', '<%= ENV["A"] + "b" %>', 4, 'kamal-backup cannot evaluate the Ruby at "+ "b""'],
    ['x: <%= "#$HOME" %>\n', '<%= "#$HOME" %>', 4, '#$ and #@ interpolation of Ruby variables is not supported'],
  ]
  for (const [text, tag, column, reason] of cases) {
    test(`${tag} fails with erb-unsupported at its <%`, () => {
      const error = failure(`service: app\n${text}`)
      assert.equal(error.code, 'erb/unsupported')
      assert.equal(error.message, `Cannot evaluate ERB tag ${tag}: ${reason}`)
      assert.deepEqual(error.location, {file: FILE, line: 2, column})
      assert.deepEqual(error.suggestions, FALLBACKS)
    })
  }

  test('a long tag is shortened in the message', () => {
    const error = failure(`x: <%= Foo.bar("${'a'.repeat(200)}") %>\n`)
    assert.ok(error.message.length < 220, error.message)
    assert.match(error.message, /…/)
  })

  test('in a YAML comment line, unsupported tags render empty with a warning', () => {
    const text = [
      'service: app',
      '# Kamal init template:',
      '#   RUBY_VERSION: <%= ENV["RBENV_VERSION"] || ENV["rvm_ruby_string"] || "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" %>',
      'image: app # <%= `git rev-parse HEAD` %>',
      '  # <% if true %>',
      'builder: {}',
      '',
    ].join('\n')
    const result = render(text)
    assert.equal(result.output, 'service: app\n# Kamal init template:\n#   RUBY_VERSION: \nimage: app # \n  # \nbuilder: {}\n')
    assert.deepEqual(
      result.warnings.map((w) => `${w.position.line}:${w.position.column}`),
      ['3:19', '4:14', '5:5'],
    )
    assert.equal(
      result.warnings[0]!.message,
      'Skipped ERB tag <%= ENV["RBENV_VERSION"] || ENV["rvm_ruby_string"] || "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" %> in a YAML comment: RUBY_ENGINE is Ruby code that kamal-backup does not run. Kamal would evaluate it but discard the output',
    )
    assert.equal(result.warnings[0]!.position.file, FILE)
  })

  test('in a YAML comment line, a failing ENV.fetch is still an error: ERB runs before YAML, so Kamal stops too', () => {
    const error = failure('a: 1\n# user: <%= ENV.fetch("NOPE") %>\n')
    assert.equal(error.code, 'erb/env-missing')
    assert.deepEqual([error.location?.line, error.location?.column], [2, 9])
    assert.match(error.message, /key not found: "NOPE" \(KeyError\)\. It is inside a YAML comment, but Kamal renders ERB before it reads YAML/)
    assert.ok(error.suggestions.some((s) => /Set NOPE in the environment/.test(s)))
    assert.ok(error.suggestions.some((s) => /delete the tag from the comment/.test(s)))
  })

  test('an output tag reading an unset ENV variable is recorded (it renders empty, which YAML reads as null)', () => {
    const result = render('a: <%= ENV["BACKUP_HOST"] %>\nb: <%= ENV["SET"] %>\nc: <%= ENV["X"] || ENV["Y"] %>\nd: <%= ENV["Z"] || "z" %>\n', {SET: 'yes'})
    assert.deepEqual(result.emptyEnv, [
      {names: ['BACKUP_HOST'], position: {file: FILE, line: 1, column: 4}},
      {names: ['X', 'Y'], position: {file: FILE, line: 3, column: 4}},
    ])
  })

  test('# inside quotes or glued to text is not a YAML comment', () => {
    assert.equal(failure('a: "#" <%= `x` %>\n').code, 'erb/unsupported')
    assert.equal(failure("a: '# x' <%= `x` %>\n").code, 'erb/unsupported')
    assert.equal(failure('a: b#<%= `x` %>\n').code, 'erb/unsupported')
  })

  test('endsInYamlComment', () => {
    assert.equal(endsInYamlComment('# x'), true)
    assert.equal(endsInYamlComment('  key: v # x'), true)
    assert.equal(endsInYamlComment('key: "a # b" '), false)
    assert.equal(endsInYamlComment("key: it's # x"), true)
    assert.equal(endsInYamlComment('url: http://x/#anchor'), false)
  })
})

describe('renderErb: Kamal corpus shapes (inline copies)', () => {
  test('integration app builder section: docker_arch first, then backticks', () => {
    const text = 'builder:\n  driver: docker\n  arch: <%= Kamal::Utils.docker_arch %>\n  args:\n    COMMIT_SHA: <%= `git rev-parse HEAD` %>\n'
    const first = failure(text)
    assert.deepEqual(first.location, {file: FILE, line: 3, column: 9})
    const second = failure(text.replace('<%= Kamal::Utils.docker_arch %>', '<%= ENV["ARCH"] %>'))
    assert.deepEqual(second.location, {file: FILE, line: 5, column: 17})
    assert.equal(second.message, 'Cannot evaluate ERB tag <%= `git rev-parse HEAD` %>: shell commands in backticks are not run by kamal-backup')
  })

  test('fixture builder with docker_arch in a ternary', () => {
    const error = failure('builder:\n  arch: <%= Kamal::Utils.docker_arch == "arm64" ? "amd64" : "arm64" %>\n')
    assert.equal(error.message, 'Cannot evaluate ERB tag <%= Kamal::Utils.docker_arch == "arm64" ? "amd64" : "arm64" %>: Kamal::Utils.docker_arch is Ruby code that kamal-backup does not run')
    assert.deepEqual(error.location, {file: FILE, line: 2, column: 9})
  })

  test('deploy.erb.yml registry section', () => {
    assert.equal(out('registry:\n  username: <%= "my-user" %>\n  password: <%= "my-password" %>\n'), 'registry:\n  username: my-user\n  password: my-password\n')
  })
})

// ---------------------------------------------------------------------------------------------------------------

function filesWithErb(): string[] {
  const found: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (readFileSync(path, 'utf8').includes('<%')) found.push(relative(CORPUS, path))
    }
  }
  walk(CORPUS)
  return found.sort()
}

const DOCKER_ARCH = 'Kamal::Utils.docker_arch is Ruby code that kamal-backup does not run'
const BACKTICKS = 'shell commands in backticks are not run by kamal-backup'

// For each corpus file with ERB: the output it renders to (a fragment), or where it fails. For the integration apps,
// the backtick tag two lines below docker_arch is checked too, with docker_arch replaced.
const CORPUS_EXPECTATIONS: Record<string, {renders: string} | {fails: [number, number, string][]}> = {
  'kamal-fixtures/deploy.erb.yml': {renders: '  username: my-user\n  password: my-password\n'},
  'kamal-fixtures/deploy_for_dest.yml': {renders: '  username: my-user\n  password: my-password\n'},
  'kamal-fixtures/deploy_for_required_dest.yml': {renders: '  username: my-user\n  password: my-password\n'},
  'kamal-fixtures/files/structure.sql.erb': {renders: 'This was dynamically expanded\n%\nsecret-root\n\n'},
  'kamal-fixtures/deploy_with_cloud_builder.yml': {fails: [[39, 9, DOCKER_ARCH]]},
  'kamal-fixtures/deploy_with_remote_builder.yml': {fails: [[39, 9, DOCKER_ARCH]]},
  'kamal-fixtures/deploy_with_remote_builder_and_custom_ports.yml': {fails: [[43, 9, DOCKER_ARCH]]},
  'kamal-fixtures/deploy_with_local_registry_and_remote_builder.yml': {fails: [[11, 9, DOCKER_ARCH]]},
  'kamal-fixtures/deploy_with_local_registry_and_remote_builder_with_port.yml': {fails: [[11, 9, DOCKER_ARCH]]},
  'kamal-integration-apps/app/config/deploy.yml': {fails: [[41, 9, DOCKER_ARCH], [43, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_custom_certificate/config/deploy.yml': {fails: [[34, 9, DOCKER_ARCH], [36, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_destinations/config/deploy.yml': {fails: [[22, 9, DOCKER_ARCH], [24, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_parallel_roles/config/deploy.yml': {fails: [[31, 9, DOCKER_ARCH], [33, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_proxied_accessory/config/deploy.yml': {fails: [[17, 9, DOCKER_ARCH], [19, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_roles/config/deploy.yml': {fails: [[50, 9, DOCKER_ARCH], [52, 17, BACKTICKS]]},
  'kamal-integration-apps/app_with_traefik/config/deploy.yml': {fails: [[16, 9, DOCKER_ARCH], [18, 17, BACKTICKS]]},
}

describe('corpus', {skip: noCorpus}, () => {
  test('the expectations cover exactly the corpus files that use ERB', () => {
    assert.deepEqual(filesWithErb(), Object.keys(CORPUS_EXPECTATIONS).sort())
  })

  for (const [file, expected] of Object.entries(CORPUS_EXPECTATIONS)) {
    test(`${file} ${'renders' in expected ? 'renders' : 'fails at the exact tag'}`, () => {
      let text = readFileSync(join(CORPUS, file), 'utf8')
      const env = {MYSQL_ROOT_HOST: '%', MYSQL_ROOT_PASSWORD: 'secret-root'}
      if ('renders' in expected) {
        const result = renderErb(text, {file, env})
        assert.ok(result.output.includes(expected.renders), result.output)
        assert.equal(result.output.includes('<%'), false)
        assert.equal(result.usedErb, true)
        assert.deepEqual(result.warnings, [])
        return
      }
      for (const [line, column, reason] of expected.fails) {
        let error: unknown
        try {
          renderErb(text, {file, env})
        } catch (caught) {
          error = caught
        }
        assert.ok(error instanceof ConfigError, `${file} should fail at ${line}:${column}`)
        assert.equal(error.code, 'erb/unsupported')
        assert.deepEqual(error.location, {file, line, column})
        assert.ok(error.message.endsWith(`: ${reason}`), error.message)
        // Replace the failing tag with a supported one to reach the next.
        const lineText = text.split('\n')[line - 1]!
        const tagEnd = lineText.indexOf('%>', column - 1) + 2
        const fixed = `${lineText.slice(0, column - 1)}<%= ENV["REPLACED"] %>${lineText.slice(tagEnd)}`
        text = text.split('\n').map((l, index) => (index === line - 1 ? fixed : l)).join('\n')
      }
      const rendered = renderErb(text, {file, env: {REPLACED: 'ok'}})
      assert.equal(rendered.output.includes('<%'), false)
    })
  }
})
