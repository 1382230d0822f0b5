// A damaged repository, said everywhere until a check passes again. A check or prune that found damage (not one that
// could not run: a lock, an unreachable server) records it in last_check.json or last_prune.json, with the time it
// was first found (carried forward while later checks and prunes keep failing) and what to do. status, evidence,
// list and every dry run read it from there.
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

/** The damage the last check found, or the last prune (restic's prune refuses to work on missing or cut packs)
 *  unless a check has passed since. */
export function repositoryDamage(engine: Pick<Engine, 'state'>): RepositoryDamage | null {
  const check = engine.state.read<MaintenanceRecord>(STATE_FILES.lastCheck)
  const prune = engine.state.read<MaintenanceRecord>(STATE_FILES.lastPrune)
  const found = (record: MaintenanceRecord | undefined) => (record?.status === 'failed' && record.damage ? record : undefined)
  const passedSince = (record: MaintenanceRecord) => check?.status === 'ok' && check.finished_at > record.finished_at
  const damaged = [found(check), found(prune)].filter((r): r is MaintenanceRecord => r !== undefined && !passedSince(r)).sort((a, b) => (a.damage!.since < b.damage!.since ? -1 : 1))
  const first = damaged[0]
  const last = damaged.at(-1)
  if (!first || !last) return null
  return {since: first.damage!.since, found_at: last.finished_at, error: last.error ?? 'restic found errors', what_to_do: last.damage!.what_to_do}
}

/** The damage of a failed check or prune, carried forward from either one's earlier record. */
export function damageSince(engine: Pick<Engine, 'state'>, error: unknown, started: Date): NonNullable<MaintenanceRecord['damage']> | null {
  const earlier = repositoryDamage(engine)
  if (!(isKamalBackupError(error) && error.code === 'restic/damaged')) return null
  return {since: earlier?.since ?? started.toISOString(), what_to_do: [...error.suggestions]}
}

/** One sentence: what, since when, and the first thing to do. */
export function describeDamage(damage: RepositoryDamage): string {
  const again = damage.found_at !== damage.since ? `, still at the check of ${damage.found_at}` : ''
  return `the repository is DAMAGED: restic found errors on ${damage.since}${again} (${firstLine(damage.error)}); until a check passes, restores may fail`
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
