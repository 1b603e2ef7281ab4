import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXPERIENCE_SLUG } from '../../../src/core/experiences/service.js';
import { RecordingReply, inbound } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';
import { answerRequests } from '../../support/wait.js';

// Answers from an Experience's documents: the sources retrieved for the question go into the
// prompt, numbered; the answer's citations become footnotes; nothing found, nothing cited.

const MANUAL = [
  'Resetting the DS920+',
  'To reset the Synology DS920+ network settings, press and hold the RESET button on the back for about 4 seconds until you hear a beep.',
  'Hard drive installation',
  'The DS920+ takes four 3.5-inch drives in hot-swappable trays.',
].join('\n\n');

let rt: TestRuntime;
let general: number;

function systemTexts(body: { messages: Array<{ role: string; content: string }> }): string {
  return body.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
}

beforeEach(async () => {
  rt = await startTestRuntime();
  general = (await rt.deps.experiences.get(DEFAULT_EXPERIENCE_SLUG))!.id;
  await rt.deps.knowledge!.addText(general, 'DS920+ manual', MANUAL, 'admin');
});
afterEach(async () => {
  await rt.shutdown();
});

describe('answers from knowledge', () => {
  it('should put the matching source in the prompt and show what the answer cites as a footnote', async () => {
    rt.openai.script({ answer: 'Hold the RESET button for about 4 seconds until it beeps [1].' });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('how do I reset the DS920+ network settings?'), reply);
    const prompt = systemTexts(answerRequests(rt)[0]!.body);
    expect(prompt).toContain('[1] DS920+ manual');
    expect(prompt).toContain('press and hold the RESET button');
    expect(prompt).toContain('cite each');
    expect(reply.transcript).toContain('📚 Sources:\n[1] DS920+ manual');
    // kept with the answer, for links from [1] to the document
    const answer = await rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').where('content', 'like', 'Hold the RESET%').executeTakeFirstOrThrow();
    expect(JSON.parse(answer.sources!)).toEqual([expect.objectContaining({ n: 1, title: 'DS920+ manual' })]);
  });

  it('should not list a source the answer did not cite, nor one it made up', async () => {
    rt.openai.script({ answer: 'Press reset [3].' });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('how do I reset the DS920+?'), reply);
    expect(reply.transcript).not.toContain('Sources:');
  });

  it('should add no sources for a question the documents do not cover', async () => {
    rt.openai.script({ answer: 'I do not know the weather.' });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('what will the weather be like in Lisbon tomorrow?'), reply);
    expect(systemTexts(answerRequests(rt)[0]!.body)).not.toContain('Sources from this workspace');
    expect(reply.transcript).not.toContain('Sources:');
  });

  it('should not use another Experience\'s documents', async () => {
    const homelab = (await rt.deps.experiences.get('homelab'))!;
    await rt.deps.db.updateTable('knowledge_documents').set({ experience_id: homelab.id }).execute();
    rt.openai.script({ answer: 'No idea.' });
    await rt.engine.handle(inbound('how do I reset the DS920+ network settings?'), new RecordingReply());
    expect(systemTexts(answerRequests(rt)[0]!.body)).not.toContain('DS920+ manual');
  });

  it('should offer the same retrieval as the knowledge_search tool, scoped to the conversation\'s Experience', async () => {
    await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['builtin'] } });
    rt.openai.script(
      { toolCalls: [{ id: 'k1', name: 'knowledge_search', arguments: { query: 'DS920+ hard drive installation' } }] },
      { answer: 'It takes four 3.5-inch drives [1].' },
    );
    await rt.engine.handle(inbound('what drives fit?'), new RecordingReply());
    const result = answerRequests(rt)[1]!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(result.content).toContain('DS920+ manual');
    expect(result.content).toContain('four 3.5-inch drives');
  });
});
