import type { Db } from '../../db/open.js';
import { errorMessage, ThreadloomError } from '../../errors.js';
import { readJson } from '../../json-column.js';
import type { Logger } from '../../log.js';
import { SECRET_KEY_ENV, type SecretBox } from '../../secrets.js';
import { placeProblems, type McpServerErrors, type McpServerInput } from './form.js';
import type { McpServers, McpTestResult } from './source.js';
import type { McpSecretNames, McpSecretValues, McpServerRow, McpServerUpdate, NewMcpServerRow } from './table.js';

/**
 * MCP servers added in the admin: kept in `mcp_servers` (their literal env and header values
 * sealed by core/secrets.ts, never handed back) and put live into `McpServers` at once. The ones
 * in the config file are not this store's: their names are taken.
 */

/** What the page shows when the saved values no longer open. */
export const MCP_UNDECRYPTABLE = `its saved env or header values cannot be decrypted — was ${SECRET_KEY_ENV} changed? Edit it and type them again`;

// the one place that reads and writes `mcp_servers`
const listRows = (db: Db): Promise<McpServerRow[]> => db.selectFrom('mcp_servers').selectAll().orderBy('name').execute();
const rowById = (db: Db, id: number): Promise<McpServerRow | undefined> => db.selectFrom('mcp_servers').selectAll().where('id', '=', id).executeTakeFirst();
const rowByName = (db: Db, name: string): Promise<McpServerRow | undefined> => db.selectFrom('mcp_servers').selectAll().where('name', '=', name).executeTakeFirst();
const insertRow = (db: Db, row: NewMcpServerRow): Promise<McpServerRow> => db.insertInto('mcp_servers').values(row).returningAll().executeTakeFirstOrThrow();
const updateRow = (db: Db, id: number, changes: McpServerUpdate, now: Date): Promise<McpServerRow | undefined> =>
  db.updateTable('mcp_servers').set({ ...changes, updated_at: now.toISOString() }).where('id', '=', id).returningAll().executeTakeFirst();
const deleteRow = (db: Db, id: number): Promise<McpServerRow | undefined> => db.deleteFrom('mcp_servers').where('id', '=', id).returningAll().executeTakeFirst();

export interface StoredMcpServer {
  id: number;
  name: string;
  kind: 'stdio' | 'http';
  /** the settings without secret values */
  config: Record<string, unknown>;
  secretNames: McpSecretNames;
  enabled: boolean;
  /** why it is off although enabled (values that no longer decrypt, a name now in the config file) */
  problem: string | null;
  updatedAt: string;
}

export interface McpServerStoreDeps {
  db: Db;
  mcp: McpServers;
  /** the names of the servers in the config file, which a stored one may not take */
  configured: readonly string[];
  /** the secret box, loaded on first use */
  secrets: () => SecretBox;
  log: Logger;
  now: () => Date;
  /** tells other instances sharing the database that stored servers changed */
  changes?: { saved(topic: 'mcp'): Promise<void> };
}

export type McpSaveResult = { server: StoredMcpServer; errors: null } | { server: null; errors: McpServerErrors };

export class McpServerStore {
  private readonly problems = new Map<string, string>();
  /** each live server's literal values, so what it prints can be shown without them */
  private readonly values = new Map<string, string[]>();
  /** the version (updated_at) of each stored server put into `mcp` here */
  private readonly loaded = new Map<string, string>();

  constructor(private readonly deps: McpServerStoreDeps) {}

  /** Puts every stored server into `mcp` (after the config file's); one that cannot is left disabled with its reason. */
  async loadAll(): Promise<void> {
    const rows = await listRows(this.deps.db);
    // another instance removed or renamed these since they were put live here
    for (const name of this.loaded.keys()) {
      if (rows.some((r) => r.name === name)) continue;
      this.loaded.delete(name);
      this.values.delete(name);
      this.problems.delete(name);
      await this.deps.mcp.remove(name);
    }
    for (const row of rows) {
      // unchanged since it was put live here: putting it again would restart its process
      if (this.loaded.get(row.name) === row.updated_at) continue;
      try {
        await this.activate(row);
      } catch (err) {
        this.deps.log.warn(`MCP server "${row.name}" is off: ${err instanceof ThreadloomError ? err.userMessage : errorMessage(err)}`);
      }
    }
  }

  /** The literal env and header values a stored server runs with: to redact from its stderr and errors. */
  secretValues(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  async list(): Promise<StoredMcpServer[]> {
    return (await listRows(this.deps.db)).map((row) => this.view(row));
  }

  async get(id: number): Promise<StoredMcpServer> {
    return this.view(await this.row(id));
  }

  /** A name the form may not use: a config-file server's, or another stored one's. */
  async nameProblem(name: string, exceptId?: number): Promise<string | null> {
    if (this.deps.configured.includes(name)) return `"${name}" is a server in the config file (mcp.servers.${name}); pick another name`;
    const other = await rowByName(this.deps.db, name);
    if (other && other.id !== exceptId) return `a server named "${name}" already exists`;
    return null;
  }

  /** Adds (no `id`) or changes a server: checked and put live first, stored once it was accepted. */
  async save(input: McpServerInput, id?: number): Promise<McpSaveResult> {
    const before = id === undefined ? null : await this.row(id);
    const clash = await this.nameProblem(input.name, id);
    if (clash) return { server: null, errors: { name: clash } };
    const values = this.merged(input, before);
    if ('errors' in values) return { server: null, errors: values.errors };
    try {
      await this.deps.mcp.put(input.name, this.fullConfig(input.config, values.secrets, input.enabled));
    } catch (err) {
      return { server: null, errors: placeProblems(err, input.name) };
    }
    if (before && before.name !== input.name) {
      await this.deps.mcp.remove(before.name);
      this.problems.delete(before.name);
      this.values.delete(before.name);
    }
    this.problems.delete(input.name);
    this.remember(input.name, values.secrets);
    const names: McpSecretNames = { env: Object.keys(values.secrets.env), headers: Object.keys(values.secrets.headers) };
    const hasSecrets = names.env.length + names.headers.length > 0;
    const columns = {
      name: input.name,
      config: JSON.stringify(input.config),
      secret_names: JSON.stringify(names),
      secrets_sealed: hasSecrets ? this.deps.secrets().seal(JSON.stringify(values.secrets)) : null,
      enabled: input.enabled ? 1 : 0,
    };
    const row = before ? await updateRow(this.deps.db, before.id, columns, this.deps.now()) : await insertRow(this.deps.db, columns);
    if (!row) throw new ThreadloomError('not_found', `no MCP server ${id}`);
    if (before && before.name !== input.name) this.loaded.delete(before.name);
    this.loaded.set(row.name, row.updated_at);
    await this.deps.changes?.saved('mcp');
    return { server: this.view(row), errors: null };
  }

  async setEnabled(id: number, enabled: boolean): Promise<StoredMcpServer> {
    const row = await updateRow(this.deps.db, (await this.row(id)).id, { enabled: enabled ? 1 : 0 }, this.deps.now());
    if (!row) throw new ThreadloomError('not_found', `no MCP server ${id}`);
    try {
      await this.activate(row);
    } catch (err) {
      this.deps.log.warn(`MCP server "${row.name}" is off: ${err instanceof ThreadloomError ? err.userMessage : errorMessage(err)}`);
    }
    await this.deps.changes?.saved('mcp');
    return this.view(row);
  }

  async remove(id: number): Promise<StoredMcpServer> {
    const row = await deleteRow(this.deps.db, id);
    if (!row) throw new ThreadloomError('not_found', `no MCP server ${id}`);
    if (!this.deps.configured.includes(row.name)) await this.deps.mcp.remove(row.name);
    this.problems.delete(row.name);
    this.values.delete(row.name);
    this.loaded.delete(row.name);
    await this.deps.changes?.saved('mcp');
    return this.view(row);
  }

  /** Connects once with the values entered (before saving, too); a saved value fills a name left empty. */
  async test(input: McpServerInput, id?: number): Promise<McpTestResult> {
    const before = id === undefined ? null : await this.row(id);
    const values = this.merged(input, before);
    if ('errors' in values) return { ok: false, error: Object.values(values.errors)[0] ?? 'the form is not complete', stderrTail: [] };
    return this.deps.mcp.test(this.fullConfig(input.config, values.secrets, true), input.name);
  }

  private async row(id: number): Promise<McpServerRow> {
    const row = await rowById(this.deps.db, id);
    if (!row) throw new ThreadloomError('not_found', `no MCP server ${id}`);
    return row;
  }

  private view(row: McpServerRow): StoredMcpServer {
    const config = readJson(row.config);
    return {
      id: row.id,
      name: row.name,
      kind: typeof config.url === 'string' ? 'http' : 'stdio',
      config,
      secretNames: readJson(row.secret_names),
      enabled: row.enabled === 1,
      problem: this.problems.get(row.name) ?? null,
      updatedAt: row.updated_at,
    };
  }

  private open(row: McpServerRow): McpSecretValues {
    return row.secrets_sealed ? (JSON.parse(this.deps.secrets().open(row.secrets_sealed)) as McpSecretValues) : { env: {}, headers: {} };
  }

  /** The typed values, with a saved one where the form left a saved name empty; only the kind's own map. */
  private merged(input: McpServerInput, before: McpServerRow | null): { secrets: McpSecretValues } | { errors: McpServerErrors } {
    let saved: McpSecretValues = { env: {}, headers: {} };
    if (before) {
      try {
        saved = this.open(before);
      } catch {
        const blanks = Object.values(input.env).includes('') || Object.values(input.headers).includes('');
        if (blanks) return { errors: { [input.kind === 'stdio' ? 'env' : 'headers']: `the saved values cannot be decrypted (was ${SECRET_KEY_ENV} changed?): type every value again` } };
      }
    }
    const fill = (typed: Record<string, string>, kept: Record<string, string>) =>
      Object.fromEntries(Object.entries(typed).map(([k, v]) => [k, v === '' && k in kept ? kept[k]! : v]));
    return input.kind === 'stdio' ? { secrets: { env: fill(input.env, saved.env), headers: {} } } : { secrets: { env: {}, headers: fill(input.headers, saved.headers) } };
  }

  private remember(name: string, secrets: McpSecretValues): void {
    this.values.set(name, [...Object.values(secrets.env), ...Object.values(secrets.headers)].filter((v) => v !== ''));
  }

  private fullConfig(config: Record<string, unknown>, secrets: McpSecretValues, enabled: boolean): Record<string, unknown> {
    const withSecrets = typeof config.url === 'string' ? { ...config, headers: secrets.headers } : { ...config, env: secrets.env };
    return { ...withSecrets, enabled };
  }

  /** Puts a stored row into `mcp`; values that no longer open leave it disabled with the reason. */
  private async activate(row: McpServerRow): Promise<void> {
    this.problems.delete(row.name);
    this.loaded.set(row.name, row.updated_at);
    if (this.deps.configured.includes(row.name)) {
      const problem = `"${row.name}" is now also a server in the config file, which wins; rename or remove this one`;
      this.problems.set(row.name, problem);
      throw new ThreadloomError('config', problem);
    }
    const config = readJson(row.config);
    let secrets: McpSecretValues;
    try {
      secrets = this.open(row);
    } catch (err) {
      this.problems.set(row.name, MCP_UNDECRYPTABLE);
      await this.deps.mcp.put(row.name, { ...config, enabled: false }).catch(() => undefined);
      throw new ThreadloomError('config', MCP_UNDECRYPTABLE, { cause: err });
    }
    this.remember(row.name, secrets);
    try {
      await this.deps.mcp.put(row.name, this.fullConfig(config, secrets, row.enabled === 1));
    } catch (err) {
      const problem = err instanceof ThreadloomError ? err.userMessage.split('\n').join('; ') : errorMessage(err);
      this.problems.set(row.name, problem);
      throw err;
    }
  }
}
