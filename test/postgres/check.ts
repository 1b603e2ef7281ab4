/**
 * A smoke check of the test PostgreSQL from Node, through kysely's built-in PostgresDialect and
 * the `pg` driver: pgvector (a vector(3) column, an HNSW index the planner uses), full-text (a
 * tsvector GIN index), a `FOR UPDATE SKIP LOCKED` claim from two transactions at once, and
 * `pg_advisory_lock` seen from two sessions. Not part of the suite; run it with check.sh.
 *
 *   eval "$(bash test/postgres/postgres.sh start)"
 *   THREADLOOM_TEST_DATABASE_URL=... bash test/postgres/check.sh
 *
 * Everything it makes lives in a schema of its own, dropped at the end.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// `pg` is not a dependency of Threadloom yet: loaded by a name the type-checker does not follow, so
// `npm run typecheck` (which covers test/) passes without it installed.
const pgModule: string = 'pg';
const { default: pg } = (await import(pgModule)) as { default: { Pool: new (config: object) => any } };

/** a package's version, read beside its resolved entry point (kysely's exports hide package.json) */
function versionOf(name: string): string {
  try {
    const entry = createRequire(import.meta.url).resolve(name);
    const root = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
    return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

const url = process.env.THREADLOOM_TEST_DATABASE_URL;
if (!url) {
  console.error('THREADLOOM_TEST_DATABASE_URL is not set (eval "$(bash test/postgres/postgres.sh start)")');
  process.exit(2);
}

function check(ok: unknown, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok  ${what}`);
}

const schema = `tl_check_${process.pid}`;
const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${schema},public` });
const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });

async function main(): Promise<void> {
  const { rows: [versions] } = await sql<{ server: string; vector: string }>`
    SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`.execute(db);
  console.log(`node ${process.version}, kysely ${versionOf('kysely')}, pg ${versionOf('pg')}, PostgreSQL ${versions!.server}, pgvector ${versions!.vector}`);
  check(versions!.vector, 'the vector extension is installed');

  await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(db);
  await db.schema
    .createTable('chunks')
    .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('experience_id', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('embedding', sql`vector(3)`)
    .addColumn('tsv', sql`tsvector`, (c) => c.generatedAlwaysAs(sql`to_tsvector('english', text)`).stored())
    .addColumn('claimed_by', 'text')
    .execute();
  await sql`CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)`.execute(db);
  await db.schema.createIndex('chunks_tsv').on('chunks').using('gin').column('tsv').execute();

  const texts = ['The quick brown fox jumps', 'Foxes are quick and clever', 'A lazy dog sleeps all day', 'Databases lock rows', 'Vectors point somewhere'];
  const inserted = await db
    .insertInto('chunks')
    .values(texts.map((text, i) => ({ experience_id: 1 + (i % 2), text, embedding: JSON.stringify([i + 1, 1, i % 2]) })))
    .returning('id')
    .execute();
  check(inserted.length === texts.length, `INSERT … RETURNING gave ${inserted.length} ids (type ${typeof inserted[0]!.id}: bigint comes back as a string)`);

  // what differs from better-sqlite3's values: bigint as string, EXISTS as boolean, numeric as string
  const { rows: [types] } = await sql<{ n: unknown; e: unknown; s: unknown }>`SELECT count(*) AS n, EXISTS (SELECT 1 FROM chunks) AS e, sum(0.5::numeric) AS s FROM chunks`.execute(db);
  check(typeof types!.n === 'string' && types!.e === true && typeof types!.s === 'string', `count(*) -> ${typeof types!.n}, EXISTS -> ${typeof types!.e}, sum(numeric) -> ${typeof types!.s}`);

  // vectors: nearest by cosine distance, and the planner takes the HNSW index when it may
  const query = JSON.stringify([2, 1, 1]);
  const nearest = await db
    .selectFrom('chunks')
    .select(['id', 'text', sql<number>`embedding <=> ${query}::vector`.as('distance')])
    .orderBy(sql`embedding <=> ${query}::vector`)
    .limit(2)
    .execute();
  check(nearest.length === 2 && nearest[0]!.distance <= nearest[1]!.distance, `nearest by <=>: ${nearest.map((r) => `${r.id} (${Number(r.distance).toFixed(4)})`).join(', ')}`);
  const plan = await db.connection().execute(async (conn) => {
    await sql`SET enable_seqscan = off`.execute(conn);
    const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT id FROM chunks ORDER BY embedding <=> ${query}::vector LIMIT 2`.execute(conn);
    await sql`RESET enable_seqscan`.execute(conn);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
  check(plan.includes('chunks_embedding'), 'the vector query can use the HNSW index (EXPLAIN names chunks_embedding)');

  // full text: websearch_to_tsquery against the generated tsvector, ranked
  const words = await db
    .selectFrom('chunks')
    .select(['id', 'text', sql<number>`ts_rank(tsv, websearch_to_tsquery('english', ${'quick fox'}))`.as('rank')])
    .where(sql<boolean>`tsv @@ websearch_to_tsquery('english', ${'quick fox'})`)
    .orderBy('rank', 'desc')
    .execute();
  check(words.length === 2, `full-text 'quick fox' (stemmed: fox = foxes) matched ${words.map((r) => r.id).join(', ')}`);
  const ftsPlan = await db.connection().execute(async (conn) => {
    await sql`SET enable_seqscan = off`.execute(conn);
    const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT id FROM chunks WHERE tsv @@ websearch_to_tsquery('english', 'fox')`.execute(conn);
    await sql`RESET enable_seqscan`.execute(conn);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
  check(ftsPlan.includes('chunks_tsv'), 'the full-text query can use the GIN index (EXPLAIN names chunks_tsv)');

  // work claimed once across instances: two transactions at once each take a different row
  const claim = (trx: Kysely<any>) =>
    trx.selectFrom('chunks').select('id').where('claimed_by', 'is', null).orderBy('id').limit(1).forUpdate().skipLocked().executeTakeFirst();
  const [first, second] = await db.transaction().execute(async (a) => {
    const mine = await claim(a);
    // a second connection while `a` still holds its row lock
    const theirs = await db.transaction().execute(async (b) => claim(b));
    await a.updateTable('chunks').set({ claimed_by: 'a' }).where('id', '=', mine!.id).execute();
    return [mine, theirs];
  });
  check(first && second && first.id !== second.id, `FOR UPDATE SKIP LOCKED: transaction a took ${first?.id}, b skipped it and took ${second?.id}`);

  // advisory locks: held by one session, refused to another, free again after unlock
  const key = 4242;
  const [refused, freed] = await db.connection().execute(async (holder) => {
    await sql`SELECT pg_advisory_lock(${key})`.execute(holder);
    const other = await db.connection().execute(async (c) => (await sql<{ got: boolean }>`SELECT pg_try_advisory_lock(${key}) AS got`.execute(c)).rows[0]!.got);
    await sql`SELECT pg_advisory_unlock(${key})`.execute(holder);
    const after = await db.connection().execute(async (c) => {
      const got = (await sql<{ got: boolean }>`SELECT pg_try_advisory_lock(${key}) AS got`.execute(c)).rows[0]!.got;
      if (got) await sql`SELECT pg_advisory_unlock(${key})`.execute(c);
      return got;
    });
    return [other, after];
  });
  check(refused === false && freed === true, 'pg_advisory_lock: another session is refused while held, gets it after unlock');
}

try {
  await main();
  console.log('all checks passed');
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db).catch(() => {});
  await db.destroy();
}
