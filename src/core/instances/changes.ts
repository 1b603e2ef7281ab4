import { isPostgres } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** The kinds of admin change each instance keeps in memory and must reload when another saves one. */
export type ChangeTopic = 'access' | 'budgets' | 'connections' | 'mcp';

const POLL_MS = 2_000;

/**
 * Admin changes other instances made. What an instance keeps in memory from the database (the
 * access settings laid over its config, budget limits and allowances, live provider connections,
 * stored MCP servers)
 * is reloaded when another instance saves a change of that kind: the saver counts the topic's
 * version up, every instance looks at the versions every 2 s and reloads the topics that moved.
 * On SQLite one process serves the file, so nothing is polled.
 */
export class SharedChanges {
  private readonly reloads = new Map<ChangeTopic, () => Promise<void>>();
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly pollMs = POLL_MS,
  ) {}

  /** What to do when another instance changed `topic`. */
  on(topic: ChangeTopic, reload: () => Promise<void>): void {
    this.reloads.set(topic, reload);
  }

  /** After this instance saved a change of `topic` (and applied it itself). */
  async saved(topic: ChangeTopic): Promise<void> {
    if (!isPostgres(this.db)) return;
    const row = await this.db
      .insertInto('shared_changes')
      .values({ topic, version: 1 })
      .onConflict((oc) => oc.column('topic').doUpdateSet((eb) => ({ version: eb('shared_changes.version', '+', 1) })))
      .returning('version')
      .executeTakeFirstOrThrow();
    // only our own step is known applied: had another instance stepped in between, the poll reloads
    if ((this.seen.get(topic) ?? 0) === Number(row.version) - 1) this.seen.set(topic, Number(row.version));
  }

  /** Starts looking for other instances' changes (PostgreSQL only); the versions now count as seen. */
  async start(): Promise<void> {
    if (!isPostgres(this.db) || this.timer) return;
    for (const row of await this.versions()) this.seen.set(row.topic, row.version);
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.pollMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.pollMs).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }

  /** One look at the versions; reloads each topic that moved since the last. */
  async poll(): Promise<ChangeTopic[]> {
    const reloaded: ChangeTopic[] = [];
    try {
      for (const { topic, version } of await this.versions()) {
        if (this.seen.get(topic) === version) continue;
        const reload = this.reloads.get(topic as ChangeTopic);
        try {
          await reload?.();
          this.seen.set(topic, version);
          if (reload) reloaded.push(topic as ChangeTopic);
        } catch (err) {
          // seen stays behind: the next look tries again
          this.log.warn(`could not reload ${topic} changed by another instance: ${errorMessage(err)}`);
        }
      }
    } catch (err) {
      this.log.warn(`could not look for other instances' changes: ${errorMessage(err)}`);
    }
    return reloaded;
  }

  private async versions(): Promise<Array<{ topic: string; version: number }>> {
    const rows = await this.db.selectFrom('shared_changes').select(['topic', 'version']).execute();
    return rows.map((r) => ({ topic: r.topic, version: Number(r.version) }));
  }
}
