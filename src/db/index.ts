// The database kinds kamal-backup knows, by their name in config/kamal-backup.yml (`adapter:`). A new kind is a
// module implementing DatabaseAdapter (adapter.ts), one line here, its schema entry (schemas/kamal-backup.schema.json,
// DATABASE_KINDS in config/types.ts) and its tests.
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

export type {DatabaseAdapter, DatabaseTarget, DbContext, DumpSource} from './adapter.js'
