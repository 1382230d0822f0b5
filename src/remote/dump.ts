// `dump` from a workstation: one `docker exec` on one SSH connection. The accessory resolves the run, announces
// the plan (run, snapshot, recorded size) as one line on stderr (`@kamal-backup-dump-plan {...}`, taken out of the
// stderr shown here), then streams `restic dump` on stdout, which goes byte for byte into `sink` (a file being
// written, or this process's stdout), with backpressure: a slow disk or reader slows the accessory, memory stays
// flat. Resolving and streaming in one process means no second listing of the repository, and no backup finishing
// in between can change which snapshot is streamed. The laptop needs neither restic nor the repository's secrets.
import {Writable} from 'node:stream'
import type {DumpPlan} from '../documents.js'
import {KamalBackupError} from '../errors.js'
import {accessoryArgv} from './command.js'
import {DUMP_PLAN_PREFIX, prefixedObject} from './protocol.js'
import {execStep, settle, type RemoteRunOptions} from './run.js'
import {resolveTarget} from './target.js'

export interface RemoteDumpOutcome {
  /** The accessory's exit code (130: interrupted, 141: the sink's reader went away). */
  exitCode: number
  /** The plan the accessory announced (undefined: it failed before, and said why on stderr). */
  plan: DumpPlan | undefined
}

/** Runs `dump <argv> -o -` in the accessory, its stdout into `sink`; `onPlan` hears the plan before the bytes. */
export async function dumpFromAccessory(options: RemoteRunOptions, sink: NodeJS.WritableStream, onPlan: (plan: DumpPlan) => void): Promise<RemoteDumpOutcome> {
  const remote = resolveTarget(options)
  const {connect} = await import('./session.js')
  const connection = await connect(remote.settings, {log: options.log, signal: options.signal})
  let plan: DumpPlan | undefined
  const stderr = planFilter(options.log.stream, (found) => {
    plan = found
    onPlan(found)
  })
  try {
    const outcome = await execStep(connection, remote, options, {label: options.command, argv: accessoryArgv(options.argv), continues: false, warnPatch: true, stdout: sink, stderr})
    stderr.end()
    const exitCode = settle(outcome, connection, remote, options)
    if (exitCode === 0 && !plan) {
      throw new KamalBackupError('the accessory streamed a dump without announcing its plan (run, snapshot, size): nothing was kept', {
        code: 'accessory/protocol',
        suggestions: [`run the same kamal-backup release on both sides (the accessory: kamal accessory reboot ${remote.accessory.name}${remote.destination ? ` -d ${remote.destination}` : ''})`],
      })
    }
    return {exitCode, plan}
  } finally {
    connection.close()
  }
}

/** The accessory's stderr on its way to ours, minus the plan line (handed to `onPlan`). Lines are held only until
 *  the plan has been seen; after that, chunks pass through as they come. */
export function planFilter(target: NodeJS.WritableStream, onPlan: (plan: DumpPlan) => void): Writable {
  let pending = ''
  let found = false
  const pass = (text: string) => {
    if (text !== '') target.write(text)
  }
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (found) {
        pass(chunk.toString('utf8'))
        return done()
      }
      pending += chunk.toString('utf8')
      let newline: number
      while (!found && (newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline + 1)
        pending = pending.slice(newline + 1)
        const plan = parsePlanLine(line)
        if (plan) {
          found = true
          onPlan(plan)
        } else pass(line)
      }
      if (found || pending.length > 65_536) {
        pass(pending)
        pending = ''
      }
      done()
    },
    final(done) {
      pass(pending)
      pending = ''
      done()
    },
  })
}

export function formatPlanLine(plan: DumpPlan): string {
  return `${DUMP_PLAN_PREFIX}${JSON.stringify(plan)}\n`
}

export function parsePlanLine(line: string): DumpPlan | undefined {
  const value = prefixedObject(line, DUMP_PLAN_PREFIX) as Partial<DumpPlan> | undefined
  return value?.kind === 'dump-plan' && typeof value.snapshot_id === 'string' ? (value as DumpPlan) : undefined
}
