import type { Db } from '../db/open.js';
import { errorMessage, ProviderError, ThreadloomError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ModelCatalog } from '../providers/catalog.js';
import { createProvider, isLocalProvider, type ProviderSpec } from '../providers/registry.js';
import type { ProviderRouter } from '../providers/router.js';
import type { Provider } from '../providers/types.js';
import { UNDECRYPTABLE, type SecretBox } from '../secrets.js';
import type { ConnectionErrors, ConnectionInput } from './form.js';
import { connectionById, connectionByName, deleteConnection, insertConnection, listConnections, updateConnection } from './repository.js';
import type { ProviderConnectionRow } from './table.js';

/**
 * Provider connections made in the admin, live: adding, changing or removing one puts or takes
 * its provider in the router (with its limits), the set of free local providers that pricing and
 * budgets read, and the model catalog, without a restart. Their keys are sealed (core/secrets.ts)
 * and never handed back.
 */

const TEST_TIMEOUT_MS = 5_000;

export interface ConnectionView {
  id: number;
  name: string;
  kind: ProviderConnectionRow['kind'];
  baseURL: string;
  hasKey: boolean;
  maxConcurrent: number;
  requestsPerMinute: number | null;
  enabled: boolean;
  /** Ollama or on this machine or LAN: its answers cost nothing */
  local: boolean;
  updatedAt: string;
  /** why it is off although enabled (a key that no longer decrypts, a name now taken); null when live */
  problem: string | null;
}

export type TestResult = { ok: true; models: string[] } | { ok: false; error: string };

export interface ConnectionServiceDeps {
  db: Db;
  router: ProviderRouter;
  catalog: ModelCatalog;
  /** provider names whose calls are free, shared with PriceTable and BudgetService */
  localProviders: Set<string>;
  /** the names of the providers from env and the config file, which a connection may not take */
  configured: readonly string[];
  /** the secret box, loaded on first use (the key file is made only when a key is saved) */
  secrets: () => SecretBox;
  log: Logger;
  now: () => Date;
  /** tells other instances sharing the database that connections changed */
  changes?: { saved(topic: 'connections'): Promise<void> };
}

/** What went wrong talking to a provider, in the words an admin needs. */
export function plainProviderError(err: unknown, baseURL: string, timedOut: boolean): string {
  if (timedOut) return `no answer from ${baseURL} within ${TEST_TIMEOUT_MS / 1000} s`;
  if (err instanceof ProviderError) {
    if (err.failure === 'auth') return `the key was refused (HTTP ${err.status ?? 401})${err.status === 403 ? ': it may not list models' : ''}`;
    if (err.failure === 'connection') return `nothing answers at ${baseURL}`;
    if (err.failure === 'unknown_model') return `${baseURL} has no model list there (HTTP ${err.status ?? 404}) — is the base URL right? OpenAI-compatible servers usually end in /v1`;
  }
  return `${baseURL} answered with an error: ${errorMessage(err).slice(0, 300)}`;
}

export class ConnectionService {
  /** connection name → why it is not live */
  private readonly problems = new Map<string, string>();
  /** names this service put in the router */
  private readonly live = new Set<string>();

  constructor(private readonly deps: ConnectionServiceDeps) {}

  /** Puts every enabled stored connection in the router; one that cannot start is reported and left off. */
  async loadAll(): Promise<void> {
    const rows = await listConnections(this.deps.db);
    // another instance removed, renamed or turned off these since they were put live here
    for (const name of this.live) if (!rows.some((r) => r.enabled && r.name === name)) this.withdraw(name);
    for (const row of rows) {
      if (!row.enabled) continue;
      try {
        await this.activate(row);
      } catch (err) {
        this.deps.log.warn(`provider connection "${row.name}" is off: ${err instanceof ThreadloomError ? err.userMessage : errorMessage(err)}`);
      }
    }
  }

  async list(): Promise<ConnectionView[]> {
    return (await listConnections(this.deps.db)).map((row) => this.view(row));
  }

  async get(id: number): Promise<ConnectionView> {
    return this.view(await this.row(id));
  }

  /** A name the form may not use: a config/env provider's, or another connection's. */
  async nameProblem(name: string, exceptId?: number): Promise<string | null> {
    if (this.deps.configured.includes(name)) return `"${name}" is already a provider from the environment or the config file; pick another name`;
    const other = await connectionByName(this.deps.db, name);
    if (other && other.id !== exceptId) return `a connection named "${name}" already exists`;
    return null;
  }

  async add(input: ConnectionInput): Promise<{ view: ConnectionView | null; errors: ConnectionErrors }> {
    const clash = await this.nameProblem(input.name);
    if (clash) return { view: null, errors: { name: clash } };
    const row = await insertConnection(this.deps.db, {
      name: input.name,
      kind: input.kind,
      base_url: input.baseURL,
      api_key_sealed: input.apiKey ? this.deps.secrets().seal(input.apiKey) : null,
      max_concurrent: input.maxConcurrent,
      requests_per_minute: input.requestsPerMinute,
      enabled: input.enabled ? 1 : 0,
    });
    await this.apply(row, null);
    await this.deps.changes?.saved('connections');
    return { view: this.view(row), errors: {} };
  }

  /** Changes a connection; an empty key keeps the saved one unless `clearKey`. */
  async update(id: number, input: ConnectionInput): Promise<{ view: ConnectionView | null; errors: ConnectionErrors }> {
    const before = await this.row(id);
    const clash = await this.nameProblem(input.name, id);
    if (clash) return { view: null, errors: { name: clash } };
    const sealed = input.apiKey ? this.deps.secrets().seal(input.apiKey) : input.clearKey ? null : before.api_key_sealed;
    const row = await updateConnection(this.deps.db, id, {
      name: input.name,
      kind: input.kind,
      base_url: input.baseURL,
      api_key_sealed: sealed,
      max_concurrent: input.maxConcurrent,
      requests_per_minute: input.requestsPerMinute,
      enabled: input.enabled ? 1 : 0,
    }, this.deps.now());
    if (!row) throw new ThreadloomError('not_found', `no connection ${id}`);
    await this.apply(row, before.name);
    await this.deps.changes?.saved('connections');
    return { view: this.view(row), errors: {} };
  }

  async remove(id: number): Promise<ConnectionView> {
    const row = await deleteConnection(this.deps.db, id);
    if (!row) throw new ThreadloomError('not_found', `no connection ${id}`);
    this.withdraw(row.name);
    this.problems.delete(row.name);
    await this.deps.changes?.saved('connections');
    return this.view(row);
  }

  /**
   * Asks the endpoint for its models with the values entered (before saving, too). Without a new
   * key, the saved key of `id` is used unless the form clears it.
   */
  async test(input: ConnectionInput, id?: number): Promise<TestResult> {
    let apiKey: string | undefined = input.apiKey || undefined;
    if (!apiKey && id !== undefined && !input.clearKey) {
      const row = await this.row(id);
      if (row.api_key_sealed) {
        try {
          apiKey = this.deps.secrets().open(row.api_key_sealed);
        } catch {
          return { ok: false, error: UNDECRYPTABLE };
        }
      }
    }
    const provider = await createProvider(input.name, this.spec(input.kind, input.baseURL, apiKey));
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, TEST_TIMEOUT_MS);
    try {
      const models = await provider.listModels(controller.signal);
      return { ok: true, models: models.map((m) => m.name).sort((a, b) => a.localeCompare(b)) };
    } catch (err) {
      return { ok: false, error: plainProviderError(err, input.baseURL, timedOut) };
    } finally {
      clearTimeout(timer);
    }
  }

  private async row(id: number): Promise<ProviderConnectionRow> {
    const row = await connectionById(this.deps.db, id);
    if (!row) throw new ThreadloomError('not_found', `no connection ${id}`);
    return row;
  }

  private view(row: ProviderConnectionRow): ConnectionView {
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      baseURL: row.base_url,
      hasKey: row.api_key_sealed !== null,
      maxConcurrent: row.max_concurrent,
      requestsPerMinute: row.requests_per_minute,
      enabled: row.enabled === 1,
      local: isLocalProvider({ kind: row.kind, baseURL: row.base_url }),
      updatedAt: row.updated_at,
      problem: row.enabled ? (this.problems.get(row.name) ?? null) : null,
    };
  }

  private spec(kind: ConnectionInput['kind'], baseURL: string, apiKey: string | undefined): ProviderSpec {
    return kind === 'ollama' ? { kind, host: baseURL } : { kind, baseURL, apiKey };
  }

  /** After a save: the old name withdrawn, the row put live when enabled (its problem noted, not thrown). */
  private async apply(row: ProviderConnectionRow, previousName: string | null): Promise<void> {
    if (previousName !== null) {
      this.withdraw(previousName);
      this.problems.delete(previousName);
    }
    this.problems.delete(row.name);
    if (!row.enabled) return this.withdraw(row.name);
    try {
      await this.activate(row);
    } catch (err) {
      this.withdraw(row.name);
      this.deps.log.warn(`provider connection "${row.name}" is off: ${err instanceof ThreadloomError ? err.userMessage : errorMessage(err)}`);
    }
  }

  private async activate(row: ProviderConnectionRow): Promise<void> {
    try {
      if (this.deps.configured.includes(row.name)) {
        throw new ThreadloomError('config', `"${row.name}" is now also a provider from the environment or the config file, which wins; rename or remove this connection`);
      }
      const apiKey = row.api_key_sealed ? this.deps.secrets().open(row.api_key_sealed) : undefined;
      const provider: Provider = await createProvider(row.name, this.spec(row.kind, row.base_url, apiKey));
      this.deps.router.putProvider(row.name, provider, { maxConcurrent: row.max_concurrent, requestsPerMinute: row.requests_per_minute });
      if (isLocalProvider({ kind: row.kind, baseURL: row.base_url })) this.deps.localProviders.add(row.name);
      else this.deps.localProviders.delete(row.name);
      this.deps.catalog.forget(row.name);
      this.live.add(row.name);
    } catch (err) {
      this.problems.set(row.name, err instanceof ThreadloomError ? err.userMessage : errorMessage(err));
      throw err;
    }
  }

  private withdraw(name: string): void {
    // a config/env provider of that name is never a connection's to remove
    if (this.deps.configured.includes(name)) return;
    this.deps.router.removeProvider(name);
    this.live.delete(name);
    this.deps.localProviders.delete(name);
    this.deps.catalog.forget(name);
  }
}
