import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrateToLatest, pendingMigrations } from '../../src/core/db/migrate.js';
import { openDatabase } from '../../src/core/db/open.js';
import { copyMigrations } from '../support/db.js';

function tables(database: ReturnType<typeof openDatabase>): string[] {
  return (database.sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as Array<{ name: string }>).map((r) => r.name);
}

describe('database', () => {
  it('should open with WAL, foreign keys, a busy timeout and sqlite-vec loaded', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-db-'));
    const database = openDatabase(path.join(dir, 'nested', 'threadloom.db'));
    expect(database.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(database.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(database.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect((database.sqlite.prepare('select vec_version() as v').get() as { v: string }).v).toMatch(/^v0\./);
    database.sqlite.close();
  });

  it('should apply the migrations once and report nothing pending after', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-db-'));
    const database = openDatabase(path.join(dir, 'threadloom.db'));
    expect((await migrateToLatest(database.db)).applied.length).toBeGreaterThan(0);
    expect(await migrateToLatest(database.db)).toEqual({ applied: [] });
    expect(await pendingMigrations(database.db)).toEqual([]);
    expect(tables(database)).toEqual(expect.arrayContaining(['experiences', 'conversations', 'messages', 'usage_events', 'bindings', 'platform_messages', 'processed_events']));
    await database.close();
  });

  it('should leave the database as it was when a migration fails', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-db-'));
    const folder = path.join(dir, 'migrations');
    copyMigrations(folder, ['2026-11-22T0001_initial.ts']);
    writeFileSync(
      path.join(folder, '2099-01-01T0000_broken.mjs'),
      `export async function up(db) {
        await db.schema.createTable('half_done').addColumn('id', 'integer').execute();
        await db.schema.alterTable('no_such_table').addColumn('x', 'text').execute();
      }`,
    );
    const database = openDatabase(path.join(dir, 'threadloom.db'));
    await expect(migrateToLatest(database.db, folder)).rejects.toThrow(/2099-01-01T0000_broken failed, nothing was applied/);
    expect(tables(database).filter((t) => !t.startsWith('kysely_'))).toEqual([]);
    await database.close();
  });
});
