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

/** A terminal's output as a stream: `isTTY` decides colour and rendering, as on process.stdout. */
function screenOf(tty: boolean) {
  const input = new PassThrough();
  const output = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 80, rows: 40 } : {});
  let screen = '';
  output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  return { input, output, screen: () => screen };
}

/** Types one line into a chat with the general Experience and returns the screen. */
async function ask(line: string, tty: boolean): Promise<string> {
  const io = screenOf(tty);
  const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'general', input: io.input, output: io.output });
  await adapter.start();
  io.input.end(`${line}\n`);
  await adapter.done;
  return io.screen();
}

const CODE_ANSWER = ['Here is the script:', '', '```bash', ...Array.from({ length: 10 }, (_, i) => `echo line ${i + 1}`), '```', '', 'Run it with bash.'].join('\n');

describe('console adapter › streaming', () => {
  it('should write a streamed answer with a code block once, in order', async () => {
    // small chunks with a pause between them: the answer is shown through many live edits
    rt.openai.script({ answer: CODE_ANSWER, chunkSize: 3, delayMs: 2 });
    const screen = await ask('show me a script', false);
    expect(screen.split('echo line 1\n')).toHaveLength(2);
    expect(screen.split('```')).toHaveLength(3);
    expect(screen).toContain(CODE_ANSWER);
  });
});

const MARKDOWN_ANSWER = 'Use **ssh** on port `22`:\n\n| service | port |\n|---|---|\n| ssh | 22 |';

describe('console adapter › who speaks and how answers look', () => {
  it('should mark the answer as Threadloom\'s, in plain text with no escape codes when piped', async () => {
    rt.openai.script({ answer: MARKDOWN_ANSWER, chunkSize: 5, delayMs: 2 });
    const screen = await ask('which port?', false);
    expect(screen).toContain(`threadloom › ${MARKDOWN_ANSWER}`);
    expect(screen).not.toContain('\x1b');
  });

  it('should replace the streamed Markdown by the rendered answer on a TTY', async () => {
    rt.openai.script({ answer: MARKDOWN_ANSWER, chunkSize: 5, delayMs: 2 });
    const screen = await ask('which port?', true);
    // streamed raw first, then the cursor goes back up over it and the screen below is cleared
    const erase = screen.lastIndexOf('\x1b[J');
    // up over exactly the five rows streamed: the marker's line, the blank line and the table's three
    expect(screen.slice(erase - 5, erase)).toBe('\r\x1b[5A');
    expect(screen.slice(0, erase)).toContain('| ssh | 22 |');
    const rendered = screen.slice(erase).replace(/\x1b\[[0-9;]*m/g, '');
    expect(rendered).toContain('threadloom ›');
    expect(rendered).toMatch(/│\s*ssh\s*│\s*22\s*│/);
    expect(rendered).not.toContain('**');
    expect(rendered).not.toContain('|---|');
  });

  it('should leave an answer taller than the screen as it streamed, since its top cannot be reached', async () => {
    const tall = Array.from({ length: 45 }, (_, i) => `- point **${i + 1}**`).join('\n');
    rt.openai.script({ answer: tall, chunkSize: 40, delayMs: 1 });
    const screen = await ask('many points', true);
    expect(screen).not.toContain('\x1b[J');
    expect(screen.split('- point **1**\n')).toHaveLength(2);
  });
});
