// ESLint (flat config): typescript-eslint's recommended rules plus the few rules that encode this project's
// conventions. `npm run lint` runs it together with dependency-cruiser (.dependency-cruiser.cjs, the layers).
// test/unit/lint.test.ts runs both over the tree, and over test/fixtures/layers to show each rule can fail.
//
// Patterns are relative to this file's folder (the repository root). The lint test points ESLint at this file
// with cwd = test/fixtures/layers, and then they are relative to that folder: keep them of the form src/...
//
// No type-aware rules: with the project service (the TypeScript program) the whole lint took ~26-30 s instead of
// ~10 s on a 2-core machine, and no-floating-promises/no-misused-promises found nothing in src/.
import {defineConfig, globalIgnores} from 'eslint/config'
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// The globals of the Node runtime running ESLint (process, Buffer, URL, fetch, structuredClone, ...): the .js/.mjs
// scripts run on Node only. TypeScript files do not need them (no-undef is off there; tsc checks names).
const nodeGlobals = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly']))
const commonJsGlobals = {require: 'readonly', module: 'writable', exports: 'writable', __dirname: 'readonly', __filename: 'readonly'}

// `x.adapter === 'sqlite'`, `'postgres' !== db.target.adapter`, `adapter == 'mysql'`, `x?.adapter === ...`,
// `(x.adapter as string) === ...`, `x['adapter'] === ...`, against a string literal or a template without ${}.
const ADAPTER_MESSAGE = 'database-specific behaviour belongs in the adapter (src/db/<kind>.ts), what a kind is in config/types.ts DATABASE_KINDS: ask one of them instead of comparing adapter with a string here'
function adapterComparison(adapterSide, stringSide) {
  const adapter = [
    `[${adapterSide}.type='MemberExpression'][${adapterSide}.computed=false][${adapterSide}.property.name='adapter']`,
    `[${adapterSide}.type='MemberExpression'][${adapterSide}.property.value='adapter']`,
    `[${adapterSide}.type='Identifier'][${adapterSide}.name='adapter']`,
    // x?.adapter (ChainExpression), x.adapter! (TSNonNullExpression), x.adapter as T, adapter as T
    `[${adapterSide}.expression.type='MemberExpression'][${adapterSide}.expression.property.name='adapter']`,
    `[${adapterSide}.expression.type='Identifier'][${adapterSide}.expression.name='adapter']`,
  ]
  const string = [
    `[${stringSide}.type='Literal'][${stringSide}.value=type(string)]`,
    `[${stringSide}.type='TemplateLiteral'][${stringSide}.expressions.length=0]`,
  ]
  return `BinaryExpression[operator=/^[!=]==?$/]:matches(${adapter.join(', ')}):matches(${string.join(', ')})`
}
const databaseSpecificSyntax = [
  {selector: adapterComparison('left', 'right'), message: ADAPTER_MESSAGE},
  {selector: adapterComparison('right', 'left'), message: ADAPTER_MESSAGE},
  {selector: "SwitchCase > Literal.test[value=/^(postgres|mysql|sqlite)$/]", message: ADAPTER_MESSAGE},
  {selector: "SwitchCase > TemplateLiteral.test[expressions.length=0][quasis.0.value.cooked=/^(postgres|mysql|sqlite)$/]", message: ADAPTER_MESSAGE},
]

const childProcessMessage = 'only src/exec/ spawns processes: run commands through it (and add what you need there)'
const noChildProcess = ['error', {
  paths: [
    {name: 'node:child_process', message: childProcessMessage},
    {name: 'child_process', message: childProcessMessage},
  ],
}]

export default defineConfig(
  globalIgnores([
    'dist/',
    'node_modules/',
    'src/generated/', // written by scripts/gen-schemas.mjs
    'bench/results/',
    'test/fixtures/', // deliberate violations; test/unit/lint.test.ts lints them with ignore: false
  ]),

  {
    name: 'kamal-backup/base',
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {globals: nodeGlobals},
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    rules: {
      eqeqeq: ['error', 'always', {null: 'ignore'}],
      // `catch {}` is how best-effort clean-up is written here (a file already gone, a child already dead).
      'no-empty': ['error', {allowEmptyCatch: true}],
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used',
        argsIgnorePattern: '^_',
        varsIgnorePattern: '^_',
        caughtErrorsIgnorePattern: '^_',
        destructuredArrayIgnorePattern: '^_',
        ignoreRestSiblings: true,
      }],
    },
  },

  {
    name: 'kamal-backup/commonjs',
    files: ['**/*.cjs'],
    languageOptions: {sourceType: 'commonjs', globals: commonJsGlobals},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },

  {
    // test/ types JSON documents read back from the CLI as `T = any` in a handful of helpers, and strips terminal
    // escapes (\x1b[...) from captured output; src/ does that once, with an eslint-disable comment.
    name: 'kamal-backup/tests-and-tools',
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {'@typescript-eslint/no-explicit-any': 'off', 'no-control-regex': 'off'},
  },

  {
    name: 'kamal-backup/src',
    files: ['src/**/*.ts'],
    rules: {
      // The CLI writes through its Ui (src/cli/ui.ts), which knows about --json, colour and redaction.
      'no-console': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': noChildProcess,
    },
  },
  {
    name: 'kamal-backup/src-exec',
    files: ['src/exec/**/*.ts'],
    rules: {'no-restricted-imports': 'off'},
  },

  {
    name: 'kamal-backup/database-specific-only-in-db',
    files: ['src/**/*.ts'],
    // The config pipeline says what each kind is (a table: config/types.ts DATABASE_KINDS), without branching on it.
    ignores: ['src/db/**'],
    rules: {'no-restricted-syntax': ['error', ...databaseSpecificSyntax]},
  },
)
