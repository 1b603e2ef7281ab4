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

const CODE_ANSWER = ['Here is the script:', '', '```bash', ...Array.from({ length: 10 }, (_, i) => `echo line ${i + 1}`), '```', '', 'Run it with bash.'].join('\n');

describe('console adapter › streaming', () => {
  it('should write a streamed answer with a code block once, in order', async () => {
    // small chunks with a pause between them: the answer is shown through many live edits
    rt.openai.script({ answer: CODE_ANSWER, chunkSize: 3, delayMs: 2 });
    const input = new PassThrough();
    const output = new PassThrough();
    let screen = '';
    output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'general', input, output });
    await adapter.start();
    input.end('show me a script\n');
    await adapter.done;
    expect(screen.split('echo line 1\n')).toHaveLength(2);
    expect(screen.split('```')).toHaveLength(3);
    expect(screen).toContain(CODE_ANSWER);
  });
});
