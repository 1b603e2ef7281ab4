import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingReply, command } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';

// `knowledge` in the chat: list the documents answers here cite, add attached files, remove one.

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime({ config: (c) => ({ ...c, admins: ['test:ada'] }) });
});
afterEach(async () => {
  await rt.shutdown();
});

const notes = { name: 'router-notes.md', mimeType: 'text/markdown', url: null, size: 80, data: Buffer.from('# VLANs\n\nThe IoT VLAN is 30; the guest VLAN is 40.').toString('base64') };

describe('knowledge command', () => {
  it('should add attached files for an admin, say what it indexed, list them and remove one', async () => {
    const reply = new RecordingReply();
    await rt.engine.handle(command('knowledge', 'add', { attachments: [notes] }), reply);
    expect(reply.last().text).toMatch(/✓ #\d+ VLANs.*1 chunks/);
    const docs = await rt.deps.knowledge!.list((await rt.deps.experiences.get('general'))!.id);
    expect(docs).toHaveLength(1);

    await rt.engine.handle(command('knowledge', 'add', { attachments: [notes] }), reply);
    expect(reply.last().text).toContain('already in the knowledge');

    await rt.engine.handle(command('knowledge'), reply);
    expect(reply.last().text).toContain(`#${docs[0]!.id} VLANs`);

    await rt.engine.handle(command('knowledge', `remove ${docs[0]!.id}`), reply);
    expect(reply.last().text).toContain('Removed');
    expect(await rt.deps.knowledge!.list(docs[0]!.experienceId)).toHaveLength(0);
  });

  it('should refuse a user who is not an admin, unless the Experience lets everyone add', async () => {
    const bob = { author: { id: 'bob', name: 'Bob', isBot: false }, channelId: 'dm-bob' };
    const reply = new RecordingReply();
    await rt.engine.handle(command('knowledge', 'add', { ...bob, attachments: [notes] }), reply);
    expect(reply.last()).toMatchObject({ private: true });
    expect(reply.last().text).toContain('Only admins');

    await rt.deps.experiences.update('general', { knowledge: { chatAdd: 'everyone' } });
    await rt.engine.handle(command('knowledge', 'add', { ...bob, attachments: [notes] }), reply);
    expect(reply.last().text).toMatch(/✓ #\d+ VLANs/);
  });

  it('should say what to attach when nothing is', async () => {
    const reply = new RecordingReply();
    await rt.engine.handle(command('knowledge', 'add'), reply);
    expect(reply.last().text).toContain('Attach the files');
  });
});
