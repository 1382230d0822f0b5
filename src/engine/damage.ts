// A damaged repository, said everywhere until a check passes again. A check that found errors (not one that could
// not run: a lock, an unreachable server) records the damage in last_check.json, with the time it was first found
// (carried forward while later checks keep failing) and what to do. status, evidence, list and every dry run read
// it from there.
import type {MaintenanceRecord} from '../documents.js'
import {isKamalBackupError} from '../errors.js'
import type {Engine} from './context.js'
import {STATE_FILES} from './state.js'

export interface RepositoryDamage {
  /** When a check first found the damage (the first of the failing checks since the last one that passed). */
  since: string
  /** When the last check found it. */
  found_at: string
  error: string
  what_to_do: string[]
}

/** What a check record says about damage: its error is restic's "repository contains errors". */
export function damageOf(error: unknown, started: Date, previous: MaintenanceRecord | undefined): NonNullable<MaintenanceRecord['damage']> | null {
  if (!(isKamalBackupError(error) && error.code === 'restic/damaged')) return null
  return {since: previous?.status === 'failed' && previous.damage ? previous.damage.since : started.toISOString(), what_to_do: [...error.suggestions]}
}

export function repositoryDamage(engine: Pick<Engine, 'state'>): RepositoryDamage | null {
  const check = engine.state.read<MaintenanceRecord>(STATE_FILES.lastCheck)
  if (check?.status !== 'failed' || !check.damage) return null
  return {since: check.damage.since, found_at: check.finished_at, error: check.error ?? 'restic check found errors', what_to_do: check.damage.what_to_do}
}

/** One sentence: what, since when, and the first thing to do. */
export function describeDamage(damage: RepositoryDamage): string {
  const again = damage.found_at !== damage.since ? `, still at the check of ${damage.found_at}` : ''
  return `the repository is DAMAGED: restic check found errors on ${damage.since}${again} (${firstLine(damage.error)}); until a check passes, restores may fail`
}

/** The damage and what to do, for a plan's warnings and a restore's log (none when the repository is fine). */
export function damageWarnings(engine: Pick<Engine, 'state'>): string[] {
  const damage = repositoryDamage(engine)
  return damage ? [`${describeDamage(damage)}. What to do: ${damage.what_to_do.join('; ')}`] : []
}

/** The damage as the CLI prints it on stderr: the sentence, then each step on its own line. */
export function damageText(damage: RepositoryDamage): string {
  return [describeDamage(damage), ...damage.what_to_do.map((x) => `  → ${x}`)].join('\n')
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim()
}
