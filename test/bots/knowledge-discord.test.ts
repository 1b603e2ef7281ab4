import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeDiscord } from '../fakes/discord/index.js';
import { GENERAL, OWNER, answerRequests, startDiscordWorld, until, type DiscordWorld } from '../support/discord.js';
import type { TestRuntime } from '../support/runtime.js';

// End to end on Discord: the server's owner (an admin) adds a document with /knowledge and a
// file, someone asks, and the answer ends with the footnote naming the document it cites.

const BACKUPS = '# Backups\n\nThe NAS snapshots run nightly at 02:00 and are kept for 30 days.';

let world: DiscordWorld;
let discord: FakeDiscord;
let rt: TestRuntime;
let files: Server;
let fileUrl: string;

beforeEach(async () => {
  world = await startDiscordWorld();
  ({ discord, rt } = world);
  // Discord's CDN: the attachment's bytes, downloaded once the interaction is deferred
  files = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/markdown' }).end(BACKUPS));
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  fileUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/backups.md`;
});

afterEach(async () => {
  files.close();
  await world.close();
});

describe('knowledge on Discord', () => {
  it('should answer a question from a document added with /knowledge, ending with the sources it cites', async () => {
    const { id } = discord.interaction({
      type: 'command', channelId: GENERAL, userId: OWNER, name: 'knowledge', options: { action: 'add' },
      attachments: { file: { filename: 'backups.md', url: fileUrl, size: BACKUPS.length, contentType: 'text/markdown' } },
    });
    const added = await until(() => discord.interactionResponses.find((r) => r.interactionId === id && r.data?.content?.includes('✓')));
    expect(added.data.content).toMatch(/✓ #\d+ Backups/);

    rt.openai.script({ answer: 'Nightly at 02:00, kept for 30 days [1].' });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> when do the NAS snapshots run?`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    // the finished answer (its buttons are on), not a streaming draft
    const answer = await until(() => discord.messagesIn(thread.id).find((m) => m.content.includes('📚 Sources:') && JSON.stringify(m.components).includes('tl:regen')));
    expect(answer.content).toContain('Nightly at 02:00, kept for 30 days [1].');
    expect(answer.content).toContain('📚 Sources:\n[1] Backups');
    // the model was given the document's text to answer from
    expect(JSON.stringify(answerRequests(rt)[0]!.body.messages)).toContain('snapshots run nightly');
  });
});
