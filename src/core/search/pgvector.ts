import { sql, type Kysely, type Transaction } from 'kysely';
import type { VectorSupport } from './search-index.js';

/**
 * pgvector, for the search and knowledge indexes on PostgreSQL. The vector tables are made at run
 * time once the model's dimension is known, with an HNSW index over cosine distance (`<=>`), the
 * distance the SQLite indexes rank by.
 */

/** pgvector's HNSW indexes `vector` columns of at most 2,000 dimensions; longer ones are scanned exactly. */
export const MAX_HNSW_DIMENSIONS = 2_000;
/** hnsw.ef_search's upper bound */
const MAX_EF_SEARCH = 1_000;
/**
 * How long a claim on queued rows lasts: longer than an embedding request may take (120 s), so
 * no other instance takes rows still being embedded; an instance killed mid-batch holds them this long.
 */
export const CLAIM_MS = 5 * 60_000;

/**
 * Whether pgvector is there: installed in this database, or installable now (migration 1100 tried
 * already; a server where it was added since gets it here). Without it: keywords only, and why.
 */
export async function pgvectorSupport(db: Kysely<any>): Promise<VectorSupport> {
  const installed = await sql`SELECT 1 AS one FROM pg_extension WHERE extname = 'vector'`.execute(db);
  if (installed.rows.length) return { ok: true };
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS vector`.execute(db);
    return { ok: true };
  } catch (err) {
    return {
      ok: false,
      reason:
        `the pgvector extension is not available in this PostgreSQL database (${(err as Error).message}): ` +
        'search by meaning needs it, keyword search works without it; install pgvector on the server ' +
        '(e.g. the postgresql-18-pgvector package) and run CREATE EXTENSION vector as a superuser',
    };
  }
}

/** pgvector's text form of a vector: `[0.1,0.2,…]`. */
export function vectorLiteral(vector: Float32Array): string {
  return `[${Array.from(vector).join(',')}]`;
}

/** The dimension as SQL, checked: it is written into a column type, where no parameter can go. */
export function vectorType(dimension: number): string {
  if (!Number.isInteger(dimension) || dimension < 1) throw new Error(`a vector cannot have ${dimension} dimensions`);
  return `vector(${dimension})`;
}

/**
 * For the nearest-neighbour query that follows in the same transaction: the HNSW scan looks at
 * `candidates` and, with filters (an Experience, some channels) that leave few of them, goes on
 * scanning in distance order until it has `limit` rows that pass (pgvector 0.8's iterative scan),
 * so a filter never empties a result the exact scan would fill.
 */
export async function setNearestScan(trx: Transaction<any>, candidates: number): Promise<void> {
  const ef = String(Math.max(1, Math.min(MAX_EF_SEARCH, Math.round(candidates))));
  await sql`SELECT set_config('hnsw.ef_search', ${ef}, true), set_config('hnsw.iterative_scan', 'strict_order', true)`.execute(trx);
}

/** One instance at a time makes or drops a vector table (two starting together would collide). */
export async function lockVectorTable(trx: Transaction<any>, table: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`threadloom:${table}`}))`.execute(trx);
}

/** Whether a table exists in the current schema. */
export async function tableExists(db: Kysely<any>, table: string): Promise<boolean> {
  const rows = await sql<{ present: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS present`.execute(db);
  return rows.rows[0]?.present === true;
}
