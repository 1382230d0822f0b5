// dependency-cruiser: the layers of src/ (npm run lint: depcruise src --config .dependency-cruiser.cjs).
//
// Lowest first; a module may import from its own folder and from the layers listed for it. Node builtins and npm
// packages are always fine (spawning processes is ESLint's business: no-restricted-imports in eslint.config.mjs).
//   foundation  src/errors.ts, src/redact.ts, src/log.ts, src/documents.ts, src/files.ts, src/generated/** → foundation
//   exec, parse src/exec/** (processes), src/parse/** (YAML with positions, findings) → foundation; not each other
//   kamal       src/kamal/** (reading Kamal's files)                             → foundation, exec, parse
//   config      src/config/** (kamal-backup's own config pipeline)               → ... and kamal
//   db, restic, remote                                                           → ... and config; not each other
//   generate    src/generate/** (files for runtimes beyond Kamal: pure functions of the config) → ... and config only
//   engine      src/engine/**                                                    → all of the above
//   notify      src/notify/**, src/metrics/** (listening to the engine's events)   → ... and engine
//   cli         src/cli/**                                                       → ... and engine
//   commands    src/commands/**                                                  → ... and cli
//   main        src/main.ts                                                      → anything
// Every pair (from layer, to layer) that is not allowed is in exactly one rule below, so a violation names it.
// A file of src/ in none of these places is reported once (src-file-in-no-layer): give it a layer here.
//
// Paths are matched as (^|/)src/..., so the same rules hold when the cruised root is the fixture tree
// test/fixtures/layers/src (test/unit/lint.test.ts shows that each kind of rule can fail).

const layer = (...paths) => paths.map((p) => `(^|/)src/${p}`)

const FOUNDATION = layer('errors\\.ts$', 'redact\\.ts$', 'log\\.ts$', 'documents\\.ts$', 'files\\.ts$', 'generated/')
const EXEC = layer('exec/')
const PARSE = layer('parse/')
const KAMAL = layer('kamal/')
const CONFIG = layer('config/')
const DB = layer('db/')
const RESTIC = layer('restic/')
const REMOTE = layer('remote/')
const GENERATE = layer('generate/')
const ENGINE = layer('engine/')
const NOTIFY = layer('notify/', 'metrics/')
const CLI = layer('cli/')
const COMMANDS = layer('commands/')
const MAIN = layer('main\\.ts$')
const ALL_LAYERS = [...FOUNDATION, ...EXEC, ...PARSE, ...KAMAL, ...CONFIG, ...DB, ...RESTIC, ...REMOTE, ...GENERATE, ...ENGINE, ...NOTIFY, ...CLI, ...COMMANDS, ...MAIN]

const ABOVE_ENGINE = [...NOTIFY, ...CLI, ...COMMANDS, ...MAIN]
const ABOVE_SERVICES = [...ENGINE, ...ABOVE_ENGINE]
const ABOVE_CONFIG = [...DB, ...RESTIC, ...REMOTE, ...GENERATE, ...ABOVE_SERVICES]
const ABOVE_KAMAL = [...CONFIG, ...ABOVE_CONFIG]
const ABOVE_L1 = [...KAMAL, ...ABOVE_KAMAL]

const forbid = (name, comment, from, to) => ({name, severity: 'error', comment, from: {path: from}, to: {path: to}})

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid('foundation-not-upward',
      'src/errors.ts, src/redact.ts, src/log.ts, src/documents.ts and src/generated/ are the foundation every layer imports, so they import nothing of src/ but each other: move what you need down into them, or the code up out of them.',
      FOUNDATION, [...EXEC, ...PARSE, ...ABOVE_L1]),
    forbid('exec-not-to-parse',
      'src/exec/ (running processes) and src/parse/ (YAML with positions, findings) are independent helpers on the foundation: exec may not import parse; pass plain values in instead.',
      EXEC, PARSE),
    forbid('parse-not-to-exec',
      'src/parse/ (YAML with positions, findings) and src/exec/ (running processes) are independent helpers on the foundation: parse may not import exec; the caller runs the process and hands parse the text.',
      PARSE, EXEC),
    forbid('exec-parse-not-upward',
      'src/exec/ and src/parse/ sit just above the foundation and import only it: they know nothing of Kamal, the config, databases, restic, SSH, the engine or the CLI; take what they need as parameters.',
      [...EXEC, ...PARSE], ABOVE_L1),
    forbid('kamal-not-upward',
      "src/kamal/ reads Kamal's own files (deploy.yml, ERB, dotenv, secrets) using only the foundation, exec and parse: it may not import kamal-backup's config, db, restic, remote, engine or CLI.",
      KAMAL, ABOVE_KAMAL),
    forbid('config-not-upward',
      "src/config/ is kamal-backup's config pipeline, built on the foundation, exec, parse and kamal: it may not import db, restic, remote, the engine or the CLI (those consume the config, not the other way round).",
      CONFIG, ABOVE_CONFIG),
    forbid('db-not-to-restic',
      'src/db/ (database adapters) and src/restic/ are siblings that do not know each other: the engine combines them (e.g. pipes a dump into restic).',
      DB, RESTIC),
    forbid('db-not-to-remote',
      'src/db/ (database adapters) and src/remote/ (SSH) are siblings that do not know each other: the engine or the CLI combines them.',
      DB, REMOTE),
    forbid('restic-not-to-db',
      'src/restic/ and src/db/ (database adapters) are siblings that do not know each other: the engine combines them.',
      RESTIC, DB),
    forbid('restic-not-to-remote',
      'src/restic/ and src/remote/ (SSH) are siblings that do not know each other: the engine or the CLI combines them.',
      RESTIC, REMOTE),
    forbid('remote-not-to-db',
      'src/remote/ (SSH to the accessory) and src/db/ are siblings that do not know each other: what crosses SSH is a plain document, not a database adapter.',
      REMOTE, DB),
    forbid('remote-not-to-restic',
      'src/remote/ (SSH to the accessory) and src/restic/ are siblings that do not know each other: what crosses SSH is a document, not a restic client.',
      REMOTE, RESTIC),
    forbid('db-restic-remote-not-upward',
      'src/db/, src/restic/ and src/remote/ are services below the engine: they may import the foundation, exec, parse, kamal and config, never the engine, the CLI, the commands or main.ts; return values and let the engine decide.',
      [...DB, ...RESTIC, ...REMOTE], ABOVE_SERVICES),
    forbid('generate-only-config',
      'src/generate/ makes deployment files (systemd, Quadlet, Compose, Kubernetes, Proxmox) from the validated config: pure functions that import the foundation, exec (quoting), parse and config, never a database, restic, SSH, the engine or the CLI.',
      GENERATE, [...DB, ...RESTIC, ...REMOTE, ...ABOVE_SERVICES]),
    forbid('engine-not-upward',
      'src/engine/ (backup, restore, drill, evidence, scheduler) runs the same with or without a terminal: it may not import src/cli/, src/commands/ or src/main.ts; report through the callbacks/Progress it is given instead.',
      ENGINE, ABOVE_ENGINE),
    forbid('notify-not-upward',
      'src/notify/ and src/metrics/ listen to the engine\'s events: it may import the engine and everything below it, never src/cli/, src/commands/ or src/main.ts; the CLI subscribes it.',
      NOTIFY, [...CLI, ...COMMANDS, ...MAIN]),
    forbid('cli-not-upward',
      'src/cli/ (base command, output, flags, confirmation) serves the commands: it may not import src/commands/ or src/main.ts; move what both need into src/cli/.',
      CLI, [...COMMANDS, ...MAIN]),
    forbid('commands-not-to-main',
      'src/main.ts is the entry point that registers the commands: nothing imports it; move what a command needs into src/cli/.',
      COMMANDS, MAIN),
    {
      name: 'src-file-in-no-layer',
      severity: 'error',
      comment:
        'Every file of src/ belongs to a layer (see the top of .dependency-cruiser.cjs): put this one in a layer folder, or add it to the right layer there, so the layer rules see it.',
      // A module rule needs a count: fewer than 100 dependents (the schema's maximum) is every file of src/.
      module: {path: '(^|/)src/', pathNot: [...ALL_LAYERS, '(^|/)node_modules/'], numberOfDependentsLessThan: 100},
      from: {},
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'This import closes a cycle (type-only imports count too): break it by moving the shared piece down a layer, or by passing a value/callback in instead of importing.',
      from: {},
      to: {circular: true},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        "This import does not resolve to a file: relative imports of .ts files are written with .js (NodeNext), npm packages must be in package.json's dependencies.",
      from: {},
      to: {couldNotResolve: true},
    },
  ],
  options: {
    doNotFollow: {path: ['node_modules']},
    // Type-only imports (import type ...) are dependencies too: they count for the layers and for cycles.
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      // NodeNext: ./x.js in an import means ./x.ts here. enhanced-resolve's extensionAlias is not accepted in this
      // option; dependency-cruiser itself retries an unresolved ./x.js as ./x.ts (and .tsx, .d.ts).
    },
    skipAnalysisNotInRules: true,
  },
}
