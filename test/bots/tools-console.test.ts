import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../src/bots/console/index.js';
import { DEFAULT_EXPERIENCE_SLUG } from '../../src/core/experiences/service.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { SCRIPTS, storedToolResults, withHomelab } from '../support/tools.js';
import { answerRequests, until } from '../support/wait.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
});

/** A chat in a pipe: lines typed go in, the screen is what came out. */
async function chat() {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: DEFAULT_EXPERIENCE_SLUG, input, output, userName: 'ada' });
  await adapter.start();
  return {
    adapter,
    type: (line: string) => input.write(`${line}\n`),
    screen: () => screen,
    quit: async () => {
      input.end();
      await adapter.done;
    },
  };
}

describe('tools in the console', () => {
  it('should answer through a read-only tool and end the answer with the tools it used', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.list);
    const c = await chat();
    c.type('which machines are down?');
    await c.quit();
    expect(c.screen()).toContain('proxmox is down; nas and router are up.');
    expect(c.screen()).toContain('🔧 homelab › list_machines');
    expect(homelab.calls).toHaveLength(1);
  });

  it('should ask approve? [y/N] for a confirm tool and run it on y', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 10_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const c = await chat();
    c.type('reboot proxmox');
    await until(() => c.screen().includes('approve? [y/N]'));
    expect(c.screen()).toContain('homelab › reboot_machine wants to run');
    expect(homelab.calls).toHaveLength(0);
    c.type('y');
    await until(() => c.screen().includes('Done with proxmox.'));
    await c.quit();
    expect(homelab.calls).toEqual([{ tool: 'reboot_machine', args: { name: 'proxmox' }, user: expect.any(String) }]);
    expect(c.screen()).toContain('✅ Approved by ada');
  });

  it('should deny on any other answer', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 10_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const c = await chat();
    c.type('reboot proxmox');
    await until(() => c.screen().includes('approve? [y/N]'));
    c.type('hmm, better not');
    await until(() => c.screen().includes('Done with proxmox.'));
    await c.quit();
    expect(homelab.calls).toHaveLength(0);
    expect(c.screen()).toContain('❌ Denied by ada');
  });

  it('should deny when nobody answers in time, and take the next line as a question again', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 1_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const c = await chat();
    c.type('reboot proxmox');
    await until(() => c.screen().includes('Done with proxmox.'));
    expect(c.screen()).toContain('No answer within 1 s: denied');
    c.type('yes');
    await c.quit();
    expect(homelab.calls).toHaveLength(0);
    // "yes" was a question to the model, not an answer to a request long gone
    expect(c.screen()).toContain('Echo: yes');
  });

  it('should stop a running tool on Ctrl-C', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(SCRIPTS.hang[0]!);
    const c = await chat();
    c.type('hang please');
    await until(() => homelab.hanging);
    await until(() => c.screen().includes('🔧 homelab › hang …'));
    c.adapter.interrupt();
    await homelab.hanging!.aborted;
    expect((await storedToolResults(rt))[0]!.meta.status).toBe('stopped');
    await until(() => c.screen().includes('⏹ Stopped.'));
    // the model was not asked again with the stopped call's result
    expect(answerRequests(rt)).toHaveLength(1);
    c.type('still there?');
    await c.quit();
    expect(c.screen()).toContain('🔧 homelab › hang (stopped)');
    expect(c.screen()).toContain('Echo: still there?');
  });
});
