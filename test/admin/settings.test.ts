import { afterEach, describe, expect, it } from 'vitest';
import { startRuntime } from '../../src/core/runtime.js';
import { silentLogger } from '../../src/core/log.js';
import { startTestAdmin, usageEvent, type AdminSession, type TestAdmin } from '../support/admin.js';

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

/** Every field of the settings form as the page renders it. */
function formOf(page: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const m of page.matchAll(/<input id="f-[^"]*" name="([^"]+)" value="([^"]*)"/g)) values[m[1]!] = m[2]!;
  for (const m of page.matchAll(/<input id="f-[^"]*" name="([^"]+)" type="checkbox"( checked)?[ >]/g)) if (m[2]) values[m[1]!] = 'on';
  for (const m of page.matchAll(/<textarea id="f-[^"]*" name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g)) values[m[1]!] = m[2]!;
  return values;
}

async function currentForm(session: AdminSession): Promise<Record<string, string>> {
  return formOf((await session.get('/settings')).body);
}

describe('Settings page', () => {
  it('should show the allowlists, admins and limits from the config', async () => {
    admin = await startTestAdmin({ config: (c) => ({ ...c, slack: { ...c.slack, allow: { channels: ['C1', 'C2'], users: [] } }, admins: ['discord:42'] }) });
    const form = await currentForm(await admin.login());
    expect(form['slack.channels']).toBe('C1\nC2');
    expect(form.admins).toBe('discord:42');
    expect(form.userTurnsPerMinute).toBe('12');
    expect(form['discord.allowDMs']).toBe('on');
  });

  it('should apply saved allowlists and admin users to the running config at once, and audit it', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const slackAllow = admin.ctx.config.slack.allow.users;
    const form = await currentForm(session);
    const response = await session.post('/settings', {
      ...form,
      'slack.users': 'U1\nU2',
      'discord.adminUsers': '1234, 5678',
      'matrix.servers': 'example.org',
      'discord.allowDMs': '',
    });
    expect(response.statusCode).toBe(303);
    // the adapters hold these very arrays: they see the change without a restart
    expect(slackAllow).toEqual(['U1', 'U2']);
    expect(admin.ctx.config.discord.adminUsers).toEqual(['1234', '5678']);
    expect(admin.ctx.config.matrix.allow.servers).toEqual(['example.org']);
    expect(admin.ctx.config.discord.allowDMs).toBe(false);
    const page = (await session.get('/settings')).body;
    expect(page).toContain('Settings saved.');
    expect(formOf(page)['slack.users']).toBe('U1\nU2');
    const entry = await admin.rt.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'settings.update').executeTakeFirstOrThrow();
    expect(entry.detail).toBe('changed: discord, slack, matrix');
  });

  it('should keep saved settings over the config file at the next start, the turn limit included', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const saved = await session.post('/settings', { ...(await currentForm(session)), userTurnsPerMinute: '3', 'slack.users': 'U9' });
    expect(saved.statusCode).toBe(303);
    expect((await session.get('/settings')).body).toContain('The new turn limit applies after a restart.');

    // a fresh runtime over the same database with a config that says otherwise
    const config = structuredClone(admin.rt.deps.config);
    config.limits.userTurnsPerMinute = 12;
    config.slack.allow.users = [];
    const restarted = await startRuntime(config, { log: silentLogger, databaseFile: `${admin.rt.dir}/threadloom.db` });
    try {
      expect(restarted.deps.config.limits.userTurnsPerMinute).toBe(3);
      expect(restarted.deps.config.slack.allow.users).toEqual(['U9']);
    } finally {
      await restarted.close();
    }
  });

  it('should label every list, with its help under it tied to the field, and put each checkbox before its label', async () => {
    admin = await startTestAdmin();
    const page = (await (await admin.login()).get('/settings')).body;
    const lists = [...page.matchAll(/<textarea id="(f-[^"]+)" name="([^"]+)"[^>]*aria-describedby="([^"]+)"/g)];
    expect(lists.map((m) => m[2])).toHaveLength(14);
    for (const [, id, name, described] of lists) {
      expect(page, name).toMatch(new RegExp(`<label for="${id}">[^<]+</label>\\s*<textarea id="${id}"`));
      expect(page, name).toMatch(new RegExp(`<small id="${described}">[^<]{10,}</small>`));
    }
    expect(page).toMatch(/<input id="f-slack-allowDMs" name="slack.allowDMs" type="checkbox"[^>]*>\s*<label for="f-slack-allowDMs">Answer direct messages<\/label>/);
  });

  it('should show what is wrong beside the field and change nothing', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const response = await session.post('/settings', { ...(await currentForm(session)), userTurnsPerMinute: 'lots', admins: 'just-an-id', 'slack.users': 'U1' });
    expect(response.statusCode).toBe(422);
    const field = (name: string) => {
      const at = response.body.indexOf(`name="${name}"`);
      return response.body.slice(at, response.body.indexOf('</div>', at));
    };
    expect(field('userTurnsPerMinute')).toContain('must be a whole number');
    expect(field('admins')).toContain('each admin is platform:id');
    expect(field('slack.users')).not.toContain('field-error');
    expect(admin.ctx.config.slack.allow.users).toEqual([]);
    expect(await admin.rt.deps.db.selectFrom('settings').select('key').where('key', '=', 'admin.access').executeTakeFirst()).toBeUndefined();
  });
});

describe('Audit page', () => {
  it('should list admin actions newest first and filter them by action', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    await session.post('/experiences/general/archive');
    await session.post('/experiences/general/unarchive');
    const page = (await session.get('/audit')).body;
    const actions = [...page.matchAll(/<td><code>([^<]+)<\/code><\/td>/g)].map((m) => m[1]);
    expect(actions).toEqual(['experience.unarchive', 'experience.archive', 'login']);
    expect(page).toContain('admin@127.0.0.1');
    expect(page).toContain('<td>general</td>');
    const filtered = (await session.get('/audit?action=login')).body;
    expect([...filtered.matchAll(/<td><code>([^<]+)<\/code><\/td>/g)].map((m) => m[1])).toEqual(['login']);
  });
});

describe('Dashboard', () => {
  it("should show each platform's state and why, providers' reachability, today's figures and recent errors", async () => {
    admin = await startTestAdmin();
    admin.ctx.platforms.set('discord', 'connected', 'as Threadloom#1234');
    admin.ctx.platforms.set('matrix', 'error', 'M_UNKNOWN_TOKEN: <b>token</b> expired');
    const db = admin.rt.deps.db;
    await db.insertInto('usage_events').values([
      usageEvent({ created_at: '2026-11-22T08:00:00.000Z', tokens_in: 100, tokens_out: 50, cost_usd: 0.25, error: null }),
      usageEvent({ created_at: '2026-11-22T09:00:00.000Z', status: 'error', error: 'connection refused' }),
      usageEvent({ created_at: '2026-11-21T09:00:00.000Z', tokens_in: 999, error: null }),
    ]).execute();
    admin.rt.ollama.scriptFor('models', { status: 500 });
    const session = await admin.login();
    const page = (await session.get('/')).body;
    expect(page).toContain('<td>discord</td><td><span class="state state-connected">connected</span></td><td>as Threadloom#1234</td>');
    expect(page).toContain('M_UNKNOWN_TOKEN: &lt;b&gt;token&lt;/b&gt; expired');
    expect(page).toContain('<td>slack</td><td><span class="state state-off">off</span></td><td>not configured: set SLACK_BOT_TOKEN');
    expect(page).toContain('<dd id="today-turns">2</dd>');
    expect(page).toContain('<dd>100</dd>');
    expect(page).toContain('<dd>$0.25</dd>');
    expect(page).toContain('connection refused');
    expect(page).toContain('hx-get="/dashboard/providers"');

    const providers = (await session.get('/dashboard/providers', { 'hx-request': 'true' })).body;
    expect(providers).toMatch(/<td>openai<\/td><td>openai<\/td><td><span class="state state-connected">yes<\/span><\/td>/);
    expect(providers).toMatch(/<td>ollama<\/td><td>ollama<\/td><td><span class="state state-error">no<\/span><\/td>/);
  });
});
