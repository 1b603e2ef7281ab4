import type SQLite from 'better-sqlite3';
import { migrateToLatest } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import { KnowledgeStore } from '../knowledge/store.js';
import { SearchStore } from '../search/store.js';

/**
 * The schema a restored database must have: what this version's migrations create, measured by
 * running them on an empty in-memory database. A candidate with less (a table or column missing)
 * would break every page after the swap; one with more (a trigger, a view) would run code nobody
 * wrote into the live database. Virtual tables are measured with their shadow tables.
 */

/** One schema object: `trigger messages_search_insert`, with what must match. */
export interface SchemaObject {
  type: string;
  name: string;
  table: string;
  /** tables: their columns; triggers, views, indexes: their SQL, whitespace collapsed */
  shape: string;
}

export interface ReferenceSchema {
  /** every object the migrations create */
  required: Map<string, SchemaObject>;
  /** objects Threadloom makes at run time (the search's vector table), allowed but not required */
  optional: Map<string, SchemaObject>;
}

function key(type: string, name: string): string {
  return `${type} ${name}`;
}

function columnsOf(sqlite: SQLite.Database, table: string): string {
  const columns = sqlite.prepare('select name, type, "notnull", dflt_value, pk from pragma_table_info(?)').all(table) as Array<Record<string, unknown>>;
  return columns.map((c) => `${String(c.name)} ${String(c.type)}${c.notnull ? ' not null' : ''}${c.dflt_value !== null ? ` default ${String(c.dflt_value)}` : ''}${c.pk ? ` pk${String(c.pk)}` : ''}`).join(', ');
}

/** SQLite's own objects (sqlite_sequence, sqlite_stat1, autoindexes) follow from the rest. */
export function describeSchema(sqlite: SQLite.Database): Map<string, SchemaObject> {
  const rows = sqlite.prepare("select type, name, tbl_name as tbl, sql from sqlite_master where name not like 'sqlite\\_%' escape '\\' order by type, name").all() as Array<{
    type: string;
    name: string;
    tbl: string;
    sql: string | null;
  }>;
  const objects = new Map<string, SchemaObject>();
  for (const row of rows) {
    const shape = row.type === 'table' ? columnsOf(sqlite, row.name) : (row.sql ?? '').replace(/\s+/g, ' ').trim();
    objects.set(key(row.type, row.name), { type: row.type, name: row.name, table: row.tbl, shape });
  }
  return objects;
}

const references = new Map<string, Promise<ReferenceSchema>>();

/** Migrates a fresh in-memory database once per migrations folder and remembers its schema. */
export function referenceSchema(migrationsDir: string): Promise<ReferenceSchema> {
  let reference = references.get(migrationsDir);
  if (!reference) {
    reference = measure(migrationsDir);
    references.set(migrationsDir, reference);
    reference.catch(() => references.delete(migrationsDir));
  }
  return reference;
}

async function measure(migrationsDir: string): Promise<ReferenceSchema> {
  const database = openDatabase(':memory:');
  try {
    await migrateToLatest(database.db, migrationsDir);
    const required = describeSchema(database.sqlite);
    const store = new SearchStore(database.sqlite);
    if (database.sqlite.prepare("select 1 from sqlite_master where name = 'search_index'").get()) {
      await store.reset('reference');
      await store.ensureVectors(8);
    }
    // the documents' vector table is made at run time too, once a model has embedded a chunk
    if (database.sqlite.prepare("select 1 from sqlite_master where name = 'knowledge_index'").get()) {
      const knowledge = new KnowledgeStore(database.sqlite);
      await knowledge.reset('reference');
      await knowledge.ensureVectors(8);
    }
    const optional = new Map([...describeSchema(database.sqlite)].filter(([name]) => !required.has(name)));
    return { required, optional };
  } finally {
    await database.close();
  }
}

/**
 * A virtual table whose module this process does not have (`USING nosuchmodule`) opens fine and
 * passes the integrity check, and fails only when something reads it; so read each one.
 */
export function unopenableVirtualTables(sqlite: SQLite.Database): string[] {
  const virtual = sqlite.prepare("select name from sqlite_master where type = 'table' and sql like 'create virtual table%'").all() as Array<{ name: string }>;
  const problems: string[] = [];
  for (const table of virtual) {
    try {
      sqlite.prepare(`select * from "${table.name.replace(/"/g, '""')}" limit 0`).all();
    } catch (err) {
      problems.push(`${table.name} (${(err as Error).message})`);
    }
  }
  return problems;
}

/** What is wrong with a candidate's schema, in words; empty when it is what this version expects. */
export function schemaDifferences(actual: Map<string, SchemaObject>, reference: ReferenceSchema): string[] {
  const problems: string[] = [];
  // tables first: they are what a person recognises
  const missing = [...reference.required.keys()].filter((k) => !actual.has(k)).sort((a, b) => Number(!a.startsWith('table ')) - Number(!b.startsWith('table ')) || (a < b ? -1 : 1));
  if (missing.length) problems.push(`it lacks ${list(missing)}`);
  const extra: string[] = [];
  const changed: string[] = [];
  for (const [name, object] of actual) {
    const expected = reference.required.get(name) ?? reference.optional.get(name);
    if (!expected) extra.push(object.type === 'table' || object.name === object.table ? name : `${name} (on ${object.table})`);
    else if (expected.shape !== object.shape || expected.table !== object.table) changed.push(name);
  }
  if (extra.length) problems.push(`it has ${list(extra)}, which this version's migrations do not create`);
  if (changed.length) problems.push(`${list(changed)} differ${changed.length === 1 ? 's' : ''} from what this version's migrations create`);
  return problems;
}

const SHOWN = 5;

function list(names: string[]): string {
  return names.length > SHOWN ? `${names.slice(0, SHOWN).join(', ')} and ${names.length - SHOWN} more` : names.join(', ');
}
