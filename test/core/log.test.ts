import { describe, expect, it } from 'vitest';
import { configSecrets, loadConfig } from '../../src/core/config.js';
import { createLogger, redactSecrets, withFields } from '../../src/core/log.js';

function capture(secrets: string[] = []) {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', secrets, write: (line) => lines.push(line) });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('structured logs', () => {
  it('writes one JSON object per line with a level name, the message and the fields', () => {
    const { log, parsed } = capture();
    log.warn('provider slow', { provider: 'openai', ms: 1200 });
    expect(parsed()[0]).toMatchObject({ level: 'warn', msg: 'provider slow', provider: 'openai', ms: 1200 });
    expect(typeof parsed()[0]!.time).toBe('number');
  });

  it("puts an event's request id on every line its logger writes, beside the line's own fields", () => {
    const { log, parsed } = capture();
    const event = withFields(log, { request: 'discord:123' });
    event.info('turn started');
    event.error('provider failed', { provider: 'openai' });
    log.info('idle');
    expect(parsed().map((l) => [l.msg, l.request, l.provider])).toEqual([
      ['turn started', 'discord:123', undefined],
      ['provider failed', 'discord:123', 'openai'],
      ['idle', undefined, undefined],
    ]);
  });

  it('never writes a configured secret or a secret-shaped string, wherever it hides', () => {
    const config = loadConfig({
      THREADLOOM_DATA_DIR: '/tmp/x',
      OPENAI_API_KEY: 'sk-proj-abcdefghijklmnopqrstuvwxyz012345',
      DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789',
      SLACK_BOT_TOKEN: 'xoxb-1111-2222-abcdefghijkl',
      SLACK_APP_TOKEN: 'xapp-1-A111-222-abcdef',
      MATRIX_HOMESERVER_URL: 'http://hs.local',
      MATRIX_USER_ID: '@bot:hs.local',
      MATRIX_PASSWORD: 'correct horse battery staple',
      THREADLOOM_ADMIN_PASSWORD: 'admin-pass-9876',
    });
    const secrets = configSecrets(config, {});
    expect(secrets).toContain('correct horse battery staple');
    const { log, lines } = capture(secrets);
    log.error('login failed for password correct horse battery staple');
    log.warn('request failed', { headers: { authorization: 'Bearer some-token-value-123' }, url: 'https://api/?key=admin-pass-9876' });
    log.info('discord said no to MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789');
    log.info('config', { slack: { botToken: 'xoxb-1111-2222-abcdefghijkl', appToken: 'xapp-1-A111-222-abcdef' }, openai: 'sk-proj-abcdefghijklmnopqrstuvwxyz012345' });
    log.info('an unconfigured key leaked by an SDK: sk-ant-api03-zzzzzzzzzzzzzzzz and syt_Ym90_abcdefghijk');
    const all = lines.join('');
    for (const secret of [...secrets, 'some-token-value-123', 'sk-ant-api03-zzzzzzzzzzzzzzzz', 'syt_Ym90_abcdefghijk']) expect(all).not.toContain(secret);
    expect(all.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(8);
  });

  it('never writes a secret with quotes or backslashes, in JSON lines (escaped, even twice) or pretty lines', () => {
    const secret = 'my"odd\\key-2024';
    for (const format of ['json', 'pretty'] as const) {
      const lines: string[] = [];
      const log = createLogger({ format, secrets: [secret], write: (line) => lines.push(line) });
      log.warn(`provider said: bad key ${secret}`, { error: `401 for ${secret}`, body: JSON.stringify({ detail: `key ${secret} refused` }) });
      const all = lines.join('');
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret)).slice(1, -1)]) expect(all, `${format}: ${all}`).not.toContain(form);
      expect(all, format).not.toContain('odd');
      expect(all.match(/\[redacted\]/g), format).toHaveLength(3);
    }
  });

  it('redacts bearer tokens whatever the case of the scheme, and escaped values of secret-named JSON fields', () => {
    const { log, lines } = capture();
    log.warn('upstream echoed', { header: 'authorization: bearer abcdefgh12345678', body: '{"api_key":"qu\\"ote-and-more"}' });
    const all = lines.join('');
    expect(all).not.toContain('abcdefgh12345678');
    expect(all).not.toContain('ote-and-more');
  });

  it('leaves ordinary text alone', () => {
    expect(redactSecrets('Bot joined room !abc:hs; skipped 3 events; the token bucket refilled', [])).toBe('Bot joined room !abc:hs; skipped 3 events; the token bucket refilled');
  });
});
