import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSecrets, loadConfig } from '../../src/core/config.js';

function withFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-config-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const NO_FILE = { THREADLOOM_CONFIG: undefined } as const;

describe('loadConfig', () => {
  it('should start on embedded defaults with nothing set', () => {
    const config = loadConfig({ ...NO_FILE });
    expect(config.dataDir).toBe('./data');
    expect(config.defaultModel).toBe('ollama/llama3.2');
    expect(config.admin).toMatchObject({ host: '127.0.0.1', port: 8787 });
    expect(Object.keys(config.providers)).toEqual(['ollama']);
    expect(config.providers.ollama).toMatchObject({ kind: 'ollama', host: 'http://127.0.0.1:11434' });
  });

  it('should switch providers on from env alone, env winning over the file', () => {
    const file = withFile('threadloom.config.yaml', 'defaultModel: openai/gpt-4o\nadmin:\n  port: 9000\n');
    const config = loadConfig({
      THREADLOOM_CONFIG: file,
      OPENAI_API_KEY: 'sk-test',
      ANTHROPIC_API_KEY: 'ak-test',
      OLLAMA_HOST: 'http://10.0.0.5:11434',
      THREADLOOM_ADMIN_PORT: '9100',
    });
    expect(config.defaultModel).toBe('openai/gpt-4o');
    expect(config.admin.port).toBe(9100);
    expect(config.providers.openai).toMatchObject({ kind: 'openai', apiKey: 'sk-test' });
    expect(config.providers.anthropic).toMatchObject({ kind: 'anthropic', apiKey: 'ak-test' });
    expect(config.providers.ollama).toMatchObject({ host: 'http://10.0.0.5:11434' });
  });

  it('should name the key and the fix for a missing API key', () => {
    const file = withFile('c.yaml', 'providers:\n  openai:\n    kind: openai\n');
    expect(() => loadConfig({ THREADLOOM_CONFIG: file })).toThrow('providers.openai.apiKey: set OPENAI_API_KEY');
  });

  it('should report unknown keys instead of ignoring them', () => {
    const file = withFile('c.yaml', 'defaultModle: ollama/qwen3\nrouting:\n  retrys: 3\n');
    let message = '';
    try {
      loadConfig({ THREADLOOM_CONFIG: file });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('unknown key "defaultModle"');
    expect(message).toContain('routing: unknown key "retrys"');
  });

  it('should read JSON5 and accept OpenAI-compatible endpoints without a key', () => {
    const file = withFile('threadloom.config.json5', `{
      // LM Studio on the workstation
      providers: { lmstudio: { kind: 'openai', baseURL: 'http://127.0.0.1:1234/v1', maxConcurrent: 1 } },
      defaultModel: 'lmstudio/qwen3-8b',
    }`);
    const config = loadConfig({ THREADLOOM_CONFIG: file });
    expect(config.providers.lmstudio).toMatchObject({ kind: 'openai', baseURL: 'http://127.0.0.1:1234/v1', maxConcurrent: 1 });
  });

  it('should refuse a default model whose provider is not configured', () => {
    expect(() => loadConfig({ THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini' })).toThrow(
      'defaultModel (THREADLOOM_DEFAULT_MODEL=openai/gpt-4o-mini): no provider named "openai" is configured; set OPENAI_API_KEY',
    );
  });

  it('should refuse a bad model id and a missing explicit file with clear messages', () => {
    expect(() => loadConfig({ THREADLOOM_DEFAULT_MODEL: 'llama3' })).toThrow(/defaultModel \(THREADLOOM_DEFAULT_MODEL=llama3\): must look like provider\/model/);
    expect(() => loadConfig({ THREADLOOM_CONFIG: '/nonexistent/threadloom.yaml' })).toThrow(/does not exist/);
  });
});

describe('loadConfig messages a careless operator meets', () => {
  it('should name the variable when an env number does not parse or is out of range', () => {
    expect(() => loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_PORT: 'abc' })).toThrow('admin.port (THREADLOOM_ADMIN_PORT=abc): not a number');
    expect(() => loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_PORT: '-5' })).toThrow(/admin\.port \(THREADLOOM_ADMIN_PORT=-5\): Too small/);
  });

  it('should say "environment only" when there is no config file', () => {
    expect(() => loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_PORT: 'abc' })).toThrow('(environment only, no config file)');
  });

  it('should name the path when the config file is a directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-config-dir-'));
    expect(() => loadConfig({ THREADLOOM_CONFIG: dir })).toThrow(`config file ${dir} is a directory, not a file`);
  });

  it('should read admin.trustProxy from THREADLOOM_ADMIN_TRUST_PROXY as a switch, a hop count or addresses', () => {
    expect(loadConfig({ ...NO_FILE }).admin.trustProxy).toBe(false);
    expect(loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_TRUST_PROXY: 'true' }).admin.trustProxy).toBe(true);
    expect(loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_TRUST_PROXY: '2' }).admin.trustProxy).toBe(2);
    expect(loadConfig({ ...NO_FILE, THREADLOOM_ADMIN_TRUST_PROXY: '127.0.0.1,10.0.0.0/8' }).admin.trustProxy).toBe('127.0.0.1,10.0.0.0/8');
  });

  it('should take PostgreSQL from THREADLOOM_DATABASE_URL, keep its password out of the logs and refuse another scheme', () => {
    expect(loadConfig(NO_FILE).database.url).toBeNull();
    const config = loadConfig({ ...NO_FILE, THREADLOOM_DATABASE_URL: 'postgres://tl:s%40cret@db:5432/threadloom' });
    expect(config.database.url).toBe('postgres://tl:s%40cret@db:5432/threadloom');
    expect(configSecrets(config, {})).toEqual(expect.arrayContaining(['postgres://tl:s%40cret@db:5432/threadloom', 's@cret']));
    expect(() => loadConfig({ ...NO_FILE, THREADLOOM_DATABASE_URL: 'mysql://db/threadloom' })).toThrow(/THREADLOOM_DATABASE_URL.*PostgreSQL URL/s);
  });
});
