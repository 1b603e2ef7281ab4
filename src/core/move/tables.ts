import type SQLite from 'better-sqlite3';

/**
 * Tables PostgreSQL builds for itself from what is moved: the usage rollups (its triggers add up
 * usage_events as they arrive, so copying them too would count everything twice) and the search
 * and knowledge index state and queues (its triggers queue every moved message and chunk, and the
 * indexes are built anew there, with its own full text and vectors).
 */
export const REBUILT_TABLES = new Set([
  'usage_day_model',
  'usage_daily',
  'usage_monthly',
  'usage_user_daily',
  'usage_user_monthly',
  'usage_user_detail',
  'usage_user_detail_monthly',
  'search_index',
  'search_queue',
  'knowledge_index',
  'knowledge_queue',
]);

/** The rollups, compared after the move: PostgreSQL's triggers must have come to the same sums. */
export const ROLLUP_TABLES = [...REBUILT_TABLES].filter((t) => t.startsWith('usage_'));

export interface MovedTable {
  name: string;
  columns: string[];
  /** the key rows are read in order of and sampled by: the rowid, or the primary key's columns */
  key: string[];
  hasRowid: boolean;
  /** a column numbered by the database, whose sequence must continue after the moved rows */
  identity: string | null;
  /** foreign-key columns written after every table is in (they close a cycle: conversations ⇄ messages) */
  deferred: string[];
}

/** Whether `start` reaches itself through references among `among`. */
function onCycle(start: string, among: ReadonlySet<string>, references: (table: string) => string[]): boolean {
  const seen = new Set<string>();
  const next = [...references(start)];
  while (next.length) {
    const table = next.pop()!;
    if (table === start) return true;
    if (seen.has(table) || !among.has(table)) continue;
    seen.add(table);
    next.push(...references(table));
  }
  return false;
}

interface ForeignKey {
  from: string;
  table: string;
}

/**
 * The tables to move (those both databases have, but the rebuilt ones), in an order where each
 * row's references are already in. A cycle of references is broken by writing one side's
 * references afterwards.
 */
export function tablesToMove(sqlite: SQLite.Database, targetTables: ReadonlySet<string>): MovedTable[] {
  const names = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>)
    .map((r) => r.name)
    .filter((name) => targetTables.has(name) && !REBUILT_TABLES.has(name) && !name.startsWith('kysely_'));
  const info = new Map(
    names.map((name) => {
      const columns = sqlite.prepare(`SELECT name, pk, type, "notnull" AS required FROM pragma_table_info(?) ORDER BY cid`).all(name) as Array<{ name: string; pk: number; type: string; required: number }>;
      const foreign = (sqlite.prepare(`SELECT "from", "table" FROM pragma_foreign_key_list(?)`).all(name) as ForeignKey[]).filter((f) => f.table !== name);
      const withoutRowid = /WITHOUT ROWID\s*$/i.test((sqlite.prepare(`SELECT sql FROM sqlite_master WHERE name = ?`).get(name) as { sql: string }).sql);
      const pk = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const autoIncrement = pk.length === 1 && pk[0] === 'id' && !withoutRowid && /^int/i.test(columns.find((c) => c.name === 'id')!.type);
      const required = new Set(columns.filter((c) => c.required).map((c) => c.name));
      return [name, { columns: columns.map((c) => c.name), pk, foreign, withoutRowid, autoIncrement, required }] as const;
    }),
  );
  const ordered: MovedTable[] = [];
  const placed = new Set<string>();
  const remaining = new Set(names);
  while (remaining.size > 0) {
    const ready = [...remaining].find((name) => info.get(name)!.foreign.every((f) => !remaining.has(f.table)));
    // a cycle: a table on it goes now, its references to tables not yet in written afterwards
    const name = ready ?? [...remaining].find((t) => onCycle(t, remaining, (n) => info.get(n)!.foreign.map((f) => f.table)));
    if (!name) throw new Error(`cannot order the tables ${[...remaining].join(', ')} by their references`);
    const table = info.get(name)!;
    const deferred = ready ? [] : table.foreign.filter((f) => remaining.has(f.table)).map((f) => f.from);
    const stuck = deferred.find((column) => table.required.has(column));
    if (stuck) throw new Error(`cannot move ${name}: its reference ${stuck} closes a cycle and may not be empty meanwhile`);
    ordered.push({
      name,
      columns: table.columns,
      key: table.withoutRowid ? table.pk : ['rowid'],
      hasRowid: !table.withoutRowid,
      identity: table.autoIncrement ? 'id' : null,
      deferred,
    });
    placed.add(name);
    remaining.delete(name);
  }
  return ordered;
}
