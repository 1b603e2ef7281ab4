import { afterEach, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../fakes/slack/index.js';
import { startSlackWorld, type SlackWorld } from '../support/slack.js';
import { answerRequests, until } from '../support/wait.js';

// End to end on Slack: an admin attaches a file to `!tl knowledge add`, someone asks, and the
// answer ends with the footnote naming the document it cites.

const ALICE = 'U0ALICE001';
const BACKUPS = '# Backups\n\nThe NAS snapshots run nightly at 02:00 and are kept for 30 days.';

let world: SlackWorld;
afterEach(async () => {
  await world.close();
});

const fromBot = (): StoredMessage[] => world.slack.allMessages(world.slack.channelId).filter((m) => m.user === world.slack.botUserId);
const hasRegen = (m: StoredMessage): boolean => JSON.stringify(m.blocks ?? []).includes('"action_id":"tl_regen"');

describe('knowledge on Slack', () => {
  it('should answer a question from a file added with `!tl knowledge add`, ending with the sources it cites', async () => {
    world = await startSlackWorld('socket', (c) => ({ ...c, admins: [`slack:${ALICE}`] }));
    const { slack, rt } = world;
    slack.userSays({ text: `<@${slack.botUserId}> !tl knowledge add`, mentionsBot: true, files: [{ name: 'backups.md', content: BACKUPS, mimetype: 'text/markdown' }] });
    const added = await until(() => fromBot().find((m) => m.text.includes('Knowledge of')));
    expect(added.text).toMatch(/✓ #\d+ Backups/);
    expect(slack.fileFetches.length).toBeGreaterThan(0);

    rt.openai.script({ answer: 'Nightly at 02:00, kept for 30 days [1].' });
    const root = slack.userSays({ text: `<@${slack.botUserId}> when do the NAS snapshots run?`, mentionsBot: true });
    // the finished answer (its buttons are on), not a streaming draft
    const answer = await until(() => slack.messages(slack.channelId, root).find((m) => m.user === slack.botUserId && hasRegen(m) && m.text.includes('📚 Sources:')));
    expect(answer.text).toContain('Nightly at 02:00, kept for 30 days [1].');
    expect(answer.text).toContain('📚 Sources:\n[1] Backups');
    expect(JSON.stringify(answerRequests(rt)[0]!.body.messages)).toContain('snapshots run nightly');
  });
});
