import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { startFakeMatrix, type FakeMatrix, type StoredEvent } from '../fakes/matrix/index.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { PATIENT_ROUTING, answerRequests, until } from '../support/wait.js';

// End to end on Matrix (real matrix-js-sdk, fake homeserver): the room's creator (power 100, an
// admin) uploads a file and captions it `!tl knowledge add`, someone asks, and the answer ends
// with the footnote naming the document it cites, in its plain body and its HTML alike.

const BACKUPS = '# Backups\n\nThe NAS snapshots run nightly at 02:00 and are kept for 30 days.';

let mx: FakeMatrix;
let rt: TestRuntime;
let adapter: MatrixAdapter;
let bot: { userId: string; accessToken: string; deviceId: string };
let alice: { userId: string; accessToken: string };
let roomId: string;

beforeEach(async () => {
  mx = await startFakeMatrix();
  bot = mx.registerUser('threadloom', { displayName: 'Threadloom' });
  alice = mx.registerUser('alice', { displayName: 'Alice' });
  rt = await startTestRuntime({
    config: (c) => ({
      ...c,
      routing: { ...c.routing, ...PATIENT_ROUTING },
      matrix: { ...c.matrix, homeserverURL: mx.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a fast-test store key' },
    }),
  });
  adapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
  await startAdapter(rt.engine, adapter);
  roomId = mx.createRoom(alice.userId, { name: 'ops', invite: [bot.userId] });
  await until(() => mx.membership(roomId, bot.userId) === 'join');
});

afterEach(async () => {
  await stopAdapter(rt.engine, adapter);
  await rt.shutdown();
  await mx.close();
});

type Content = { body?: string; formatted_body?: string; format?: string; 'm.new_content'?: Content; 'm.relates_to'?: { rel_type?: string; event_id?: string } };
const contentOf = (e: StoredEvent): Content => e.content as Content;
const fromBot = (): StoredEvent[] => mx.events(roomId).filter((e) => e.sender === bot.userId && e.type === 'm.room.message');
/** what a message of the bot shows now: its latest m.replace, else its own content */
function shown(e: StoredEvent): Content {
  const last = fromBot().filter((r) => contentOf(r)['m.relates_to']?.rel_type === 'm.replace' && contentOf(r)['m.relates_to']?.event_id === e.event_id).at(-1);
  return last ? contentOf(last)['m.new_content']! : contentOf(e);
}
const posts = (): Content[] => fromBot().filter((e) => contentOf(e)['m.relates_to']?.rel_type !== 'm.replace').map(shown);

/** alice's client uploads the file to the media repository, as Element does before sending it */
async function upload(name: string, text: string, mimeType: string): Promise<string> {
  const response = await fetch(`${mx.url}/_matrix/media/v3/upload?filename=${encodeURIComponent(name)}`, {
    method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': mimeType }, body: text,
  });
  return ((await response.json()) as { content_uri: string }).content_uri;
}

describe('knowledge on Matrix (fake homeserver)', () => {
  it('should answer a question from a file captioned `!tl knowledge add`, ending with the sources it cites in body and HTML', async () => {
    const url = await upload('backups.md', BACKUPS, 'text/markdown');
    mx.send(roomId, alice.userId, { msgtype: 'm.file', body: '!tl knowledge add', filename: 'backups.md', url, info: { mimetype: 'text/markdown', size: BACKUPS.length } });
    const added = await until(() => posts().find((c) => c.body?.includes('Knowledge of')));
    expect(added.body).toMatch(/✓ #\d+ Backups/);

    rt.openai.script({ answer: 'Nightly at 02:00, kept for 30 days [1].' });
    mx.say(roomId, alice.userId, 'Threadloom: when do the NAS snapshots run?', { mentions: [bot.userId] });
    const answer = await until(() => posts().find((c) => c.body?.includes('📚 Sources:')));
    expect(answer.body).toContain('Nightly at 02:00, kept for 30 days [1].');
    expect(answer.body).toContain('📚 Sources:\n[1] Backups');
    expect(answer.format).toBe('org.matrix.custom.html');
    // the footnote keeps its own lines in the HTML (a bare newline there would run them together)
    expect(answer.formatted_body).toContain('<p>📚 Sources:<br>[1] Backups');
    expect(JSON.stringify(answerRequests(rt)[0]!.body.messages)).toContain('snapshots run nightly');
  });
});
