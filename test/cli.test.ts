import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDiscord } from './fakes/discord/index.js';
import { startFakeOllama, type FakeProviderServer } from './fakes/providers.js';
import { RecordingReply, inbound } from './support/reply.js';
import { startTestRuntime } from './support/runtime.js';
import { spawnThreadloom } from './support/process.js';

const ROOT = path.resolve(import.meta.dirname, '..');
// by file URL, so the child resolves it from here and not from its own working directory
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Threadloom entry point in its own process with only the given environment. */
function run(script: string, args: string[], env: Record<string, string>, until?: { stderr: RegExp; then: 'SIGTERM' }): Promise<Run> {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, script), ...args], {
    cwd: mkdtempSync(path.join(tmpdir(), 'threadloom-cwd-')),
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (until && until.stderr.test(stderr)) child.kill(until.then);
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const CLOSED_PORT = 'http://127.0.0.1:9'; // discard port: nothing listens there

describe('npm start', () => {
  it('should start with nothing configured, say what to set for each platform, and stop cleanly', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-start-'));
    const result = await run('src/main.ts', [], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: CLOSED_PORT, THREADLOOM_ADMIN_PORT: '0' }, { stderr: /ready in \d+ ms/, then: 'SIGTERM' });
    expect(result.stderr).toContain('installed 14 built-in Experiences');
    expect(result.stderr).toMatch(/admin web listening on http:\/\/127\.0\.0\.1:\d+\//);
    expect(result.stderr).toContain('discord: off — set DISCORD_TOKEN to enable');
    expect(result.stderr).toContain('slack: off — set SLACK_BOT_TOKEN');
    expect(result.stderr).toContain('matrix: off — set MATRIX_HOMESERVER_URL');
    expect(result.stderr).toContain('SIGTERM: shutting down');
    expect(result.code).toBe(0);
  });

  it('should refuse a broken configuration with the key and the fix, before touching anything', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-start-'));
    const result = await run('src/main.ts', [], { THREADLOOM_DATA_DIR: dataDir, THREADLOOM_DEFAULT_MODEL: 'anthropic/claude-haiku-4-5' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('defaultModel (THREADLOOM_DEFAULT_MODEL=anthropic/claude-haiku-4-5): no provider named "anthropic" is configured; set ANTHROPIC_API_KEY');
  });
});

describe('threadloom --help', () => {
  it('should print the usage on stdout and succeed when asked, and fail naming an unknown command', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const asked = await run('src/cli.ts', [flag], {});
      expect(asked.code, flag).toBe(0);
      expect(asked.stdout).toContain('usage: threadloom <command>');
    }
    const wrong = await run('src/cli.ts', ['bakup'], {});
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('threadloom: unknown command "bakup"');
  });
});

describe('threadloom doctor', () => {
  let ollama: FakeProviderServer;
  beforeAll(async () => {
    ollama = await startFakeOllama();
  });
  afterAll(async () => {
    await ollama.close();
  });

  it('should print one line per check and pass when the default model is there', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-doctor-'));
    const result = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url });
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ok\s+config\s/);
    expect(lines[1]).toMatch(/^ok\s+database\s.*\(ok, WAL, sqlite-vec v0\./);
    expect(lines[2]).toMatch(new RegExp(`^warn migrations\\s+${readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.ts')).length} pending \\(2026-11-22T0001_initial`));
    expect(lines[3]).toMatch(/^ok\s+provider ollama\s+reachable, 3 models/);
    expect(lines[4]).toMatch(/^ok\s+search\s+keywords only: set THREADLOOM_EMBEDDING_MODEL/);
    expect(result.code).toBe(0);
  });

  it('should say whether the embedding model embeds, and with how many dimensions', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-doctor-'));
    const good = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url, THREADLOOM_EMBEDDING_MODEL: 'ollama/nomic-embed-text' });
    expect(good.stdout).toMatch(/^ok\s+search\s+ollama\/nomic-embed-text embeds \(8 dimensions\)$/m);
    const missing = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url, THREADLOOM_EMBEDDING_MODEL: 'ollama/all-minilm' });
    expect(missing.stdout).toMatch(/^warn search\s+ollama\/all-minilm cannot embed: .*\(keyword search still works\)$/m);
    expect(missing.code).toBe(0);
  });

  it('should fail when the default model\'s provider is unreachable', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-doctor-'));
    const result = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: CLOSED_PORT });
    expect(result.stdout).toMatch(/FAIL provider ollama\s+unreachable: .*\(it serves the default model\)/);
    expect(result.code).toBe(1);
  });

  it('should check the Discord token when one is set', async () => {
    const discord = await startFakeDiscord({ token: 'right-token' });
    try {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-doctor-'));
      const good = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url, DISCORD_TOKEN: 'right-token', DISCORD_API_BASE_URL: discord.apiUrl });
      expect(good.stdout).toMatch(/ok\s+discord\s+token works, bot user /);
      const bad = await run('src/cli.ts', ['doctor'], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url, DISCORD_TOKEN: 'wrong-token', DISCORD_API_BASE_URL: discord.apiUrl });
      expect(bad.stdout).toMatch(/FAIL discord\s+the token was refused/);
      expect(bad.code).toBe(1);
    } finally {
      await discord.close();
    }
  });
});

describe('threadloom export', () => {
  it('should write every Experience and every conversation with all its branches as one JSON document', async () => {
    const rt = await startTestRuntime();
    try {
      await rt.engine.handle(inbound('first question', { eventId: 'e1' }), new RecordingReply());
      const [answer] = await rt.deps.db.selectFrom('messages').select('id').where('role', '=', 'assistant').execute();
      await rt.engine.regenerate(answer!.id, inbound('', { eventId: 'e2' }), new RecordingReply());
      const out = path.join(rt.dir, 'export.json');
      const onPostgres: Record<string, string> = rt.deps.config.database.url ? { THREADLOOM_DATABASE_URL: rt.deps.config.database.url } : {};
      const result = await run('src/cli.ts', ['export', '--out', out], { THREADLOOM_DATA_DIR: rt.dir, ...onPostgres });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/exported 14 Experiences, 1 conversations, 3 messages/);
      const data = JSON.parse(readFileSync(out, 'utf8'));
      expect(data.format).toBe('threadloom-export/1');
      expect(data.experiences.map((e: { slug: string }) => e.slug)).toContain('homelab');
      const [conversation] = data.conversations;
      expect(conversation.experience).toBe('general');
      const answers = conversation.messages.filter((m: { role: string }) => m.role === 'assistant');
      expect(answers).toHaveLength(2);
      expect(answers.every((a: { parentId: number }) => a.parentId === conversation.messages[0].id)).toBe(true);
    } finally {
      await rt.shutdown();
    }
  });
});

/** `threadloom chat` in a pseudo-terminal (util-linux `script`): what a person at a terminal sees. */
function chatInTerminal(args: string[], env: Record<string, string>) {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, '--import', TSX, path.join(ROOT, 'src/cli.ts'), 'chat', ...args].map(quote).join(' ');
  const child = spawn('script', ['-q', '-c', command, '/dev/null'], {
    cwd: mkdtempSync(path.join(tmpdir(), 'threadloom-cwd-')),
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', TERM: 'xterm-256color', ...env },
  });
  let screen = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    screen += d;
    for (const check of waiters) check();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    screen: () => screen,
    type: (keys: string) => child.stdin.write(keys),
    exited,
    /** resolves once the screen, from `from` on, matches */
    waitFor: (pattern: RegExp, from = 0) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(screen.slice(from))) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
        void exited.then(() => {
          if (waiters.delete(check)) reject(new Error(`exited before ${pattern}: ${screen}`));
        });
      }),
  };
}

const stripColour = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

describe('threadloom chat', () => {
  let ollama: FakeProviderServer;
  beforeAll(async () => {
    ollama = await startFakeOllama();
  });
  afterAll(async () => {
    await ollama.close();
  });

  it('should prompt, mark who speaks and show the answer rendered, in colour, in a terminal', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-chat-'));
    const chat = chatInTerminal([], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url });
    await chat.waitFor(/you › /);
    chat.type('say **loud** words\r');
    // the fake echoes the Markdown; once done, the streamed text is cleared and shown rendered
    await chat.waitFor(/\x1b\[J[^]*you › /);
    const rendered = chat.screen().slice(chat.screen().lastIndexOf('\x1b[J'));
    expect(rendered).toContain('\x1b[1mloud');
    expect(stripColour(rendered)).toMatch(/threadloom › Echo: say loud words\s/);
    chat.type('\x04');
    expect(await chat.exited).toBe(0);
  });

  it('should leave an answer as it streamed when keys typed meanwhile were echoed among its lines', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-chat-'));
    ollama.script({ answer: 'a **slow** answer that stalls', chunkSize: 4, stallAfterChunks: 3 });
    const chat = chatInTerminal([], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url });
    await chat.waitFor(/you › /);
    chat.type('go\r');
    await chat.waitFor(/threadloom ›.* a \*\*slow/);
    chat.type('x');
    await chat.waitFor(/\*\*slow[^]*x/);
    chat.type('\x03'); // Ctrl-C stops the answer
    const stopped = chat.screen().length;
    await chat.waitFor(/Stopped\.[^]*you › /, stopped);
    expect(chat.screen()).not.toContain('\x1b[J');
    // the prompt comes back with the x and the cursor before it: Ctrl-D deletes it, a second one quits
    chat.type('\x04');
    chat.type('\x04');
    expect(await chat.exited).toBe(0);
  });

  /** each chat below starts Threadloom several times: a slow machine gets the time it needs */
  const SEVERAL_PROCESSES = { timeout: 120_000 };

  /** `threadloom chat` with its input piped in: what a script (or a test) reads */
  async function chatPiped(args: string[], lines: string[], env: Record<string, string>): Promise<Run> {
    const chat = spawnThreadloom('src/cli.ts', ['chat', ...args], env);
    let stdout = '';
    chat.child.stdout.on('data', (d: Buffer) => (stdout += d));
    chat.child.stdin.end(lines.map((l) => `${l}\n`).join(''));
    const code = await chat.exited;
    return { code, stdout, stderr: chat.stderr() };
  }

  it('should say which conversation it resumes, and start a fresh one with --new', SEVERAL_PROCESSES, async () => {
    const env = { THREADLOOM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'threadloom-chat-')), OLLAMA_HOST: ollama.url };
    const first = await chatPiped([], ['hello there'], env);
    expect(first.stdout).toContain('threadloom › Echo: hello there');
    expect(first.stdout).not.toContain('Resuming');
    const again = await chatPiped([], [], env);
    expect(again.stdout).toMatch(/^Resuming “[^”]+” \(2 messages, the Experience's model\) — \/new for a fresh one\.$/m);
    const fresh = await chatPiped(['--new'], ['a new topic'], env);
    expect(fresh.stdout).not.toContain('Resuming');
    const afterFresh = await chatPiped([], [], env);
    expect(afterFresh.stdout).toMatch(/Resuming “[^”]+” \(2 messages,/);
    expect(afterFresh.code).toBe(0);
  });

  it('should write /export under the data dir, or into --out, and print the path', SEVERAL_PROCESSES, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-chat-'));
    const env = { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: ollama.url };
    const inDataDir = await chatPiped([], ['hello there', '/export'], env);
    const saved = /\(saved (.+)\)/.exec(inDataDir.stdout)?.[1];
    expect(saved && path.dirname(saved)).toBe(path.join(dataDir, 'exports'));
    expect(readFileSync(saved!, 'utf8')).toContain('hello there');
    const out = mkdtempSync(path.join(tmpdir(), 'threadloom-out-'));
    const inOut = await chatPiped(['--out', out], ['/export'], env);
    expect(/\(saved (.+)\)/.exec(inOut.stdout)?.[1]).toMatch(new RegExp(`^${out}/`));
    expect(readdirSync(out)).toHaveLength(1);
  });

  it('should refuse a bad argument in one line with the usage, and list the Experiences for an unknown one', SEVERAL_PROCESSES, async () => {
    const env = { THREADLOOM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'threadloom-chat-')), OLLAMA_HOST: ollama.url };
    const badOption = await chatPiped(['--model', 'x'], [], env);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toBe("threadloom chat: Unknown option '--model'. usage: threadloom chat [--experience <slug>] [--new] [--out <dir>]\n");
    const unknown = await chatPiped(['--experience', 'nope'], [], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^threadloom chat: no Experience "nope"; choose one of: .*\bgeneral\b.*\bhomelab\b/);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  });
});
