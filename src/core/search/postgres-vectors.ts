import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/open.js';
import type { Database } from '../db/types.js';
import { lockVectorTable, MAX_HNSW_DIMENSIONS, pgvectorSupport, tableExists, vectorType } from './pgvector.js';
import type { IndexState, VectorSupport } from './search-index.js';

/** Which vector table, and the one-row table that holds its model and dimension. */
export interface VectorTableSpec {
  /** search_vectors, knowledge_vec */
  table: string;
  /** search_index, knowledge_index */
  stateTable: string;
  /** "search", "knowledge": names the index in errors */
  what: string;
  /** the columns before `embedding`, as CREATE TABLE takes them; the first is the key, with its reference */
  columns: string;
}

/**
 * One pgvector table of the search or knowledge index on PostgreSQL: made when the model's first
 * vectors say their dimension (HNSW over cosine distance, an index on the Experience beside it),
 * dropped when the model changes. Made under an advisory lock: instances starting together make it once.
 */
export class PostgresVectorTable {
  private support: VectorSupport | null = null;

  constructor(private readonly db: Db, readonly spec: VectorTableSpec) {}

  /** pgvector's presence, asked again until it is there (an operator may install it while Threadloom runs). */
  async vectorSupport(): Promise<VectorSupport> {
    if (this.support?.ok) return this.support;
    return (this.support = await pgvectorSupport(this.db));
  }

  async state(db: Db | Transaction<Database> = this.db): Promise<IndexState | null> {
    return (await sql<IndexState>`SELECT model, dimension FROM ${sql.table(this.spec.stateTable)} WHERE id = 1`.execute(db)).rows[0] ?? null;
  }

  exists(db: Db | Transaction<Database> = this.db): Promise<boolean> {
    return tableExists(db, this.spec.table);
  }

  /** Drops the vectors and records `model` with no dimension yet, inside the caller's transaction (which requeues). */
  async restart(trx: Transaction<Database>, model: string): Promise<void> {
    await lockVectorTable(trx, this.spec.table);
    await sql`DROP TABLE IF EXISTS ${sql.table(this.spec.table)}`.execute(trx);
    await sql`DELETE FROM ${sql.table(this.spec.stateTable)}`.execute(trx);
    await sql`INSERT INTO ${sql.table(this.spec.stateTable)}(id, model, dimension) VALUES (1, ${model}, NULL)`.execute(trx);
  }

  /** Makes the table once the dimension is known; vectors of another length than the index holds are refused. */
  async ensure(dimension: number): Promise<void> {
    const { table, stateTable, what, columns } = this.spec;
    const state = await this.state();
    if (!state) throw new Error(`the ${what} index has no model`);
    const refuse = (held: number) => new Error(`${state.model} returned ${dimension}-dimensional vectors; the index holds ${held}`);
    if (state.dimension !== null && (await this.exists())) {
      if (state.dimension !== dimension) throw refuse(state.dimension);
      return;
    }
    const support = await this.vectorSupport();
    if (!support.ok) throw new Error(support.reason);
    await this.db.transaction().execute(async (trx) => {
      await lockVectorTable(trx, table);
      // another instance may have made it while this one waited for the lock
      const held = (await this.state(trx))?.dimension ?? null;
      if (held !== null && held !== dimension && (await this.exists(trx))) throw refuse(held);
      await sql.raw(`CREATE TABLE IF NOT EXISTS ${table} (${columns}, embedding ${vectorType(dimension)} NOT NULL)`).execute(trx);
      if (dimension <= MAX_HNSW_DIMENSIONS) {
        await sql.raw(`CREATE INDEX IF NOT EXISTS ${table}_embedding ON ${table} USING hnsw (embedding vector_cosine_ops)`).execute(trx);
      }
      await sql.raw(`CREATE INDEX IF NOT EXISTS ${table}_experience ON ${table} (experience_id)`).execute(trx);
      await sql`UPDATE ${sql.table(stateTable)} SET dimension = ${dimension} WHERE id = 1`.execute(trx);
    });
  }
}
