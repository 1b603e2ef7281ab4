import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';

/**
 * What differs between SQLite and PostgreSQL in the queries of src/, in one place. A repository
 * writes kysely code that both accept; where the SQL itself must differ it asks here, by name.
 * (Migrations keep their own copy in migrations/support/, since they import nothing from src/.)
 */
export type DialectName = 'sqlite' | 'postgres';

/** Which database a kysely instance (or transaction) talks to. */
export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

export function isPostgres(db: Kysely<any>): boolean {
  return dialectOf(db) === 'postgres';
}

/**
 * A condition as 0 or 1, the way SQLite gives it: PostgreSQL's `EXISTS (…)` and comparisons are
 * booleans, which neither add up nor compare with integers.
 */
export function flag(db: Kysely<any>, condition: RawBuilder<unknown>): RawBuilder<number> {
  return isPostgres(db) ? sql<number>`(CASE WHEN ${condition} THEN 1 ELSE 0 END)` : sql<number>`(${condition})`;
}

/** The current time as ISO-8601 UTC text with milliseconds, as every timestamp column holds it. */
export function nowText(db: Kysely<any>): RawBuilder<string> {
  return isPostgres(db)
    ? sql<string>`to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
}

/**
 * The database's clock in milliseconds since the epoch: what leases expire by, so instances on
 * machines whose clocks differ still agree on who holds what.
 */
export function nowMs(db: Kysely<any>): RawBuilder<number> {
  return isPostgres(db)
    ? sql<number>`(floor(extract(epoch from clock_timestamp()) * 1000)::bigint)`
    : sql<number>`(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))`;
}
