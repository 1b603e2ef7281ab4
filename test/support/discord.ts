import { expect } from 'vitest';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import type { Config } from '../../src/core/config.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from './runtime.js';
import { PATIENT_ROUTING } from './wait.js';

export const GUILD = '100000000000000001';
export const GENERAL = '100000000000000010';
/** owns the guild (and so is an admin); the default user who talks in tests is not */
export const OWNER = '100000000000000099';

export interface DiscordWorld {
  discord: FakeDiscord;
  rt: TestRuntime;
  adapter: ReturnType<typeof createDiscordAdapter>;
  close(): Promise<void>;
}

/** The engine over a real SQLite file with the Discord adapter logged into the fake Discord. */
export async function startDiscordWorld(configure: (c: Config) => Config = (c) => c): Promise<DiscordWorld> {
  const discord = await startFakeDiscord({ guilds: [{ id: GUILD, name: 'Homelab', ownerId: OWNER, members: [{ userId: OWNER, username: 'owner' }], channels: [{ id: GENERAL, name: 'general' }] }] });
  const rt = await startTestRuntime({
    config: (c) => configure({ ...c, routing: { ...c.routing, ...PATIENT_ROUTING }, discord: { ...c.discord, token: 'fake-token', apiBaseURL: discord.apiUrl } }),
  });
  const adapter = createDiscordAdapter(adapterContext(rt));
  await startAdapter(rt.engine, adapter);
  const world: DiscordWorld = {
    discord,
    rt,
    adapter,
    close: async () => {
      if (process.env.THREADLOOM_TEST_STATS) printStats(world.discord);
      await stopAdapter(rt.engine, world.adapter);
      await rt.shutdown();
      await discord.close();
    },
  };
  return world;
}

export { answerRequests, until } from './wait.js';

/** With THREADLOOM_TEST_STATS=1: edits per bot message and 429s, one line per test world. */
function printStats(discord: FakeDiscord): void {
  const channels = [...new Set([...discord.channelIds(), ...discord.threads.map((t) => t.id)])];
  const edits = channels.flatMap((c) => discord.messagesIn(c)).map((m) => m.editCount);
  const total = edits.reduce((a, b) => a + b, 0);
  process.stderr.write(`discord-stats test="${expect.getState().currentTestName}" messages=${edits.length} edits=${total} max_edits_per_message=${Math.max(0, ...edits)} rate_limited=${discord.rateLimited}\n`);
}
