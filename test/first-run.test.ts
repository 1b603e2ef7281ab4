import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDefaultModel } from '../src/core/providers/readiness.js';
import { startTestAdmin, type TestAdmin } from './support/admin.js';
import { spawnThreadloom } from './support/process.js';
import { RecordingReply, inbound } from './support/reply.js';

/** A newcomer's first start with no model that can answer: the start says so, and the way out. */

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

describe('the first run without a model', () => {
  it('should say after "ready" that no model can answer, with the ways out and the dashboard address', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-first-run-'));
    const p = spawnThreadloom('src/main.ts', [], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: 'http://127.0.0.1:9', THREADLOOM_ADMIN_PORT: '0' });
    await p.waitFor(/no model can answer yet.*\n/);
    p.child.kill('SIGTERM');
    await p.exited;
    const line = p.stderr().split('\n').find((l) => l.includes('no model can answer yet'))!;
    expect(line).toContain('the default model ollama/llama3.2 — ollama could not be reached');
    expect(line).toContain('start Ollama (`ollama serve`, or set OLLAMA_HOST to where it runs) and `ollama pull llama3.2`');
    expect(line).toContain('set OPENAI_API_KEY (or ANTHROPIC_API_KEY) and THREADLOOM_DEFAULT_MODEL');
    expect(line).toMatch(/the dashboard at http:\/\/127\.0\.0\.1:\d+\/ says the same/);
    // after "ready": an unreachable provider never holds the start up
    expect(p.stderr().indexOf('threadloom ready')).toBeLessThan(p.stderr().indexOf('no model can answer yet'));
  });

  it('should show the dashboard banner until a model answers', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    // the fake Ollama is up but does not have this model
    admin.rt.readiness.set(await checkDefaultModel(admin.rt.deps.router, 'ollama/not-pulled-yet'));
    const before = (await session.get('/')).body;
    expect(before).toContain('No model can answer yet');
    expect(before).toContain('ollama does not offer not-pulled-yet');
    expect(before).toContain('run `ollama pull not-pulled-yet`');

    // any answer that arrives clears it (the runtime's default model answers through the fake OpenAI)
    await admin.rt.engine.handle(inbound('hello there'), new RecordingReply());
    expect((await session.get('/')).body).not.toContain('No model can answer yet');
  });

  it('should find nothing wrong when the default model is offered', async () => {
    admin = await startTestAdmin();
    const readiness = await checkDefaultModel(admin.rt.deps.router, 'openai/gpt-4o-mini');
    expect(readiness.problem).toBeNull();
    admin.rt.readiness.set(readiness);
    expect((await (await admin.login()).get('/')).body).not.toContain('No model can answer yet');
  });
});
