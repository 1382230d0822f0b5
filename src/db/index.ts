// The database kinds kamal-backup knows, by their name in config/kamal-backup.yml (`adapter:`). A new kind is a
// module implementing DatabaseAdapter (adapter.ts), one line here, its schema entry and its tests.
import type {Adapter} from '../config/types.js'
import type {DatabaseAdapter} from './adapter.js'
import {mysql} from './mysql.js'
import {postgres} from './postgres.js'
import {sqlite} from './sqlite.js'

const ADAPTERS: Record<Adapter, DatabaseAdapter> = {postgres, mysql, sqlite}

export function databaseAdapter(kind: Adapter): DatabaseAdapter {
  return ADAPTERS[kind]
}

/** Every kind, in a fixed order (the order of their tools in `version --json` and evidence). */
export const databaseAdapters: readonly DatabaseAdapter[] = [postgres, mysql, sqlite]

/** The kind a Rails adapter name (config/database.yml `adapter:`) means, if kamal-backup knows it. */
export function kindOfRailsAdapter(name: string): Adapter | undefined {
  return databaseAdapters.find((a) => a.railsAdapters.test(name))?.kind
}

export type {DatabaseAdapter, DatabaseTarget, DbContext, DumpSource} from './adapter.js'
