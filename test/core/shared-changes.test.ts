import { afterEach, describe, expect, it } from 'vitest';
import { accessFromConfig, saveAccess } from '../../src/core/platforms.js';
import { homelabServer } from '../fakes/mcp/support.js';
import { TEST_POSTGRES_URL, sqliteOnly } from '../support/postgres.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const running: TestRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((rt) => rt.shutdown()));
});

/** Two instances on one database: the second opens the first one's. */
async function twoInstances(): Promise<[TestRuntime, TestRuntime]> {
  const a = await startTestRuntime();
  running.push(a);
  const b = await startTestRuntime({ config: (c) => ({ ...c, database: { ...c.database, url: a.deps.config.database.url } }) });
  running.push(b);
  return [a, b];
}

describe('admin changes between instances', () => {
  sqliteOnly('one process owns the SQLite file; on PostgreSQL the test below runs instead').it('look for nothing on SQLite, where one process serves the file', async () => {
    const a = await startTestRuntime();
    running.push(a);
    await a.changes.saved('access');
    expect(await a.changes.poll()).toEqual([]);
    expect(await a.deps.db.selectFrom('shared_changes').selectAll().execute()).toEqual([]);
  });

  it.skipIf(!TEST_POSTGRES_URL)("reach the other instances: access settings, budget limits and connections saved on one apply on the others", async () => {
    const [a, b] = await twoInstances();
    expect(await b.changes.poll()).toEqual([]);

    const access = accessFromConfig(a.deps.config);
    await saveAccess(a.deps.db, a.deps.config, { ...access, admins: ['discord:42'] });
    await a.changes.saved('access');
    await a.budgets.setLimit({ scope: 'user', target: 'discord:ada', period: 'daily', unit: 'tokens', amount: 5_000, by: 'admin' });
    const added = await a.connections.add({ name: 'lab', kind: 'ollama', baseURL: a.ollama.url, apiKey: '', clearKey: false, maxConcurrent: 2, requestsPerMinute: null, enabled: true });
    expect(added.errors).toEqual({});
    // the instance that saved them applied them at once, and has nothing to reload
    expect(a.deps.config.admins).toEqual(['discord:42']);
    expect(await a.changes.poll()).toEqual([]);

    expect(b.deps.config.admins).not.toContain('discord:42');
    expect(b.deps.router.providerNames).not.toContain('lab');
    expect((await b.changes.poll()).sort()).toEqual(['access', 'budgets', 'connections']);
    expect(b.deps.config.admins).toEqual(['discord:42']);
    expect([...b.budgets.limitRules.runtime.values()]).toEqual([5_000]);
    expect(b.deps.router.providerNames).toContain('lab');

    await a.connections.remove(added.view!.id);
    expect(await b.changes.poll()).toEqual(['connections']);
    expect(b.deps.router.providerNames).not.toContain('lab');

    // an MCP server stored on one (off, so no process starts), then changed, then removed
    const saved = await a.mcpStore.save({ name: 'homelab', kind: 'stdio', enabled: false, config: homelabServer(), env: {}, headers: {} });
    expect(saved.errors).toBeNull();
    expect(b.mcp.get('homelab')).toBeUndefined();
    expect(await b.changes.poll()).toEqual(['mcp']);
    expect(b.mcp.get('homelab')).toBeDefined();
    await a.mcpStore.remove(saved.server!.id);
    expect(await b.changes.poll()).toEqual(['mcp']);
    expect(b.mcp.get('homelab')).toBeUndefined();
  });
});
