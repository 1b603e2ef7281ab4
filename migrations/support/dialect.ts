import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type RawBuilder } from 'kysely';

// What differs between SQLite and PostgreSQL in the schema, in one place for every migration.
// Like the migrations, it imports nothing from src/ and is frozen in time: what a helper returns
// for a dialect never changes, since shipped migrations call it (a new need gets a new helper).
// On SQLite each helper gives exactly the SQL the migrations wrote before PostgreSQL existed, so
// a SQLite schema comes out byte-identical (the restore check compares it with the migrations').

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The default of a timestamp column: now, as ISO-8601 UTC text with milliseconds. */
export function nowDefault(db: Kysely<any>): RawBuilder<string> {
  return isPostgres(db)
    ? sql<string>`(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`
    : sql<string>`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;
}

/** An integer primary key the database numbers: AUTOINCREMENT on SQLite, an identity on PostgreSQL. */
export function idColumn(db: Kysely<any>): (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return isPostgres(db) ? (c) => c.primaryKey().generatedByDefaultAsIdentity() : (c) => c.primaryKey().autoIncrement();
}

/** A floating-point column (costs, prices, amounts): PostgreSQL's `real` is single precision. */
export function floatType(db: Kysely<any>): 'real' | 'double precision' {
  return isPostgres(db) ? 'double precision' : 'real';
}

/** A condition as the integer 0 or 1: SQLite's comparisons are integers, PostgreSQL's booleans. */
export function flag(db: Kysely<any>, condition: string): string {
  return isPostgres(db) ? `(CASE WHEN ${condition} THEN 1 ELSE 0 END)` : `(${condition})`;
}

/** A column of bytes: BLOB on SQLite, bytea on PostgreSQL. */
export function bytesType(db: Kysely<any>): 'blob' | 'bytea' {
  return isPostgres(db) ? 'bytea' : 'blob';
}
