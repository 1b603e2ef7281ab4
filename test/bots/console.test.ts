import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../src/bots/console/index.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { until } from '../support/wait.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
});

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  return { input, output, screen: () => screen };
}

describe('console adapter', () => {
  it('should chat with the chosen Experience and run slash commands', async () => {
    const io = terminal();
    const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'homelab', input: io.input, output: io.output, userName: 'ada' });
    await adapter.start();
    io.input.write('which port does ssh use?\n');
    io.input.write('/experience show\n');
    io.input.write('/nonsense\n');
    io.input.end();
    await adapter.done;
    const screen = io.screen();
    expect(screen).toContain('Threadloom · Homelab');
    expect(screen).toContain('Echo: which port does ssh use?');
    expect(screen).toMatch(/Homelab .*\(`homelab`/);
    expect(screen).toContain('Unknown command "nonsense"');
    expect(rt.openai.chatRequests()[0]!.body.messages[0].content).toContain('You are Homelab Buddy');
  });

  it('should stop an answer on Ctrl-C and keep going', async () => {
    rt.openai.script({ answer: 'a long answer that stalls', chunkSize: 2, stallAfterChunks: 3 });
    const io = terminal();
    const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'general', input: io.input, output: io.output });
    await adapter.start();
    io.input.write('talk\n');
    await until(() => io.screen().includes('a lo'));
    adapter.interrupt();
    await until(() => io.screen().includes('⏹ Stopped.'));
    io.input.write('still there?\n');
    io.input.end();
    await adapter.done;
    expect(io.screen()).toContain('Echo: still there?');
  });
});
