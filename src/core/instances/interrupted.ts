import { sql } from 'kysely';
import { isPostgres, nowMs } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import type { DbExecutor } from '../db/types.js';

const INTERRUPTED = 'interrupted: Threadloom stopped while answering';

/**
 * Answers cut off by a crash or `kill -9` were never finished: what had arrived (saved every few
 * seconds while streaming) is kept as a partial answer, an answer with nothing yet is an error,
 * instead of "streaming" forever. On SQLite one process writes, so at its start every streaming
 * answer is such a one; on PostgreSQL only those whose writer no longer holds its instance lease
 * are (another instance may be writing the rest right now).
 */
export async function recoverInterruptedAnswers(db: Db): Promise<number> {
  const interrupted = (status: 'partial' | 'error') =>
    db
      .updateTable('messages')
      .set({ status, error: INTERRUPTED, writer: null })
      .where('status', '=', 'streaming')
      .$if(status === 'partial', (qb) => qb.where('content', '!=', ''))
      .$if(isPostgres(db), (qb) =>
        qb.where((eb) =>
          eb.or([
            eb('writer', 'is', null),
            eb('writer', 'not in', instancesWhoseLease(db, 'runs')),
          ]),
        ),
      )
      .executeTakeFirst();
  const partial = await interrupted('partial');
  const empty = await interrupted('error');
  return Number(partial.numUpdatedRows) + Number(empty.numUpdatedRows);
}

const INSTANCE_PREFIX = 'instance:';

/** The lease that says an instance is alive: `instance:<name>`. */
export const instanceLease = (name: string): string => `${INSTANCE_PREFIX}${name}`;

/** The names of the instances whose lease still runs, or has lapsed: a subquery for `in` / `not in`. */
export function instancesWhoseLease(db: DbExecutor, state: 'runs' | 'lapsed') {
  return db
    .selectFrom('leases')
    .select(sql<string>`substr(name, ${sql.lit(INSTANCE_PREFIX.length + 1)})`.as('instance'))
    .where('name', 'like', `${INSTANCE_PREFIX}%`)
    .where('expires_at', state === 'runs' ? '>' : '<=', nowMs(db));
}
