import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import { ThreadloomError } from '../errors.js';
import type { Db } from './open.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/**
 * Loads migrations with this module's own `import()`, so whatever runs Threadloom's TypeScript
 * (tsx, or vitest in tests) also loads the `.ts` migrations; kysely's file provider imports from
 * inside node_modules, where no TypeScript loader reaches.
 */
class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await readdir(this.folder)).sort()) {
      if (!/\.(ts|mts|js|mjs)$/.test(file) || file.endsWith('.d.ts')) continue;
      const module = (await import(pathToFileURL(path.join(this.folder, file)).href)) as Migration;
      migrations[file.replace(/\.[^.]+$/, '')] = module;
    }
    return migrations;
  }
}

function migrator(db: Db, folder: string): Migrator {
  return new Migrator({ db, provider: new FolderMigrationProvider(folder) });
}

export interface MigrationReport {
  applied: string[];
}

/** Applies every pending migration in one transaction; on failure nothing is applied. */
export async function migrateToLatest(db: Db, folder = MIGRATIONS_DIR): Promise<MigrationReport> {
  const result: MigrationResultSet = await migrator(db, folder).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new ThreadloomError('migration', `migration ${failed} failed, nothing was applied: ${cause}`, { cause: result.error });
  }
  return { applied: (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(db: Db, folder = MIGRATIONS_DIR): Promise<string[]> {
  const all = await migrator(db, folder).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
