import { expect } from 'vitest';
import { createSlackAdapter } from '../../src/bots/slack/index.js';
import type { Config } from '../../src/core/config.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from './runtime.js';
import { PATIENT_ROUTING } from './wait.js';

export interface SlackWorld {
  slack: FakeSlack;
  rt: TestRuntime;
  adapter: ReturnType<typeof createSlackAdapter>;
  close(): Promise<void>;
}

/** The engine over a real SQLite file with the Slack adapter (real Bolt) against the fake Slack. */
export async function startSlackWorld(transport: 'socket' | 'http', configure: (c: Config) => Config = (c) => c): Promise<SlackWorld> {
  const slack = await startFakeSlack();
  const rt = await startTestRuntime({
    config: (c) =>
      configure({
        ...c,
        routing: { ...c.routing, ...PATIENT_ROUTING },
        limits: { userTurnsPerMinute: 1000 },
        slack: {
          ...c.slack,
          botToken: slack.botToken,
          apiURL: slack.apiUrl,
          ...(transport === 'socket' ? { appToken: slack.appToken, signingSecret: undefined } : { appToken: undefined, signingSecret: slack.signingSecret, port: 0 }),
        },
      }),
  });
  const adapter = createSlackAdapter(adapterContext(rt));
  await startAdapter(rt.engine, adapter);
  slack.transport = transport;
  if (transport === 'http') slack.httpTarget = adapter.httpUrl()!;
  return {
    slack,
    rt,
    adapter,
    close: async () => {
      if (process.env.THREADLOOM_TEST_STATS) {
        const updates = Object.values(slack.updatesPerMessage());
        const answers = slack.calls.filter((c) => c.method === 'chat.postMessage' && c.ok).length;
        process.stderr.write(`slack-stats test="${expect.getState().currentTestName}" answers_posted=${answers} updates=${updates.reduce((a, b) => a + b, 0)} max_updates_per_message=${Math.max(0, ...updates)} rate_limited=${slack.rateLimited}\n`);
      }
      await stopAdapter(rt.engine, adapter);
      await rt.shutdown();
      await slack.close();
    },
  };
}
