import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../src/bots/console/index.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
});

/** Types `lines` into a piped terminal chat and returns what it printed. */
async function chat(lines: string[], options: { exportDir?: string } = {}): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'general', input, output, ...options });
  await adapter.start();
  input.end(lines.map((l) => `${l}\n`).join(''));
  await adapter.done;
  return screen;
}

describe('console adapter › commands', () => {
  it('should list the commands as they are typed here, without bind', async () => {
    const screen = await chat(['/help', '/help model', '/model x']);
    expect(screen).toContain('`/model [provider/model | reset]`');
    expect(screen).toContain('`/help [command]`');
    expect(screen).not.toMatch(/`\/?bind/);
    expect(screen).toMatch(/^threadloom › `\/model /m);
    expect(screen).toContain('Usage: /model');
  });

  it('should name the commands as typed when one is unknown', async () => {
    const screen = await chat(['/nonsense']);
    expect(screen).toContain('Commands: /model, /models,');
    expect(screen).not.toContain('/bind');
    expect(screen).toContain('Try `/help`');
  });
});
