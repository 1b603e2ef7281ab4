/**
 * Tool calls and results in a history, as each adapter puts them on the wire, when the history is
 * not the tidy one of the conformance suite: cut short, invalid arguments, empty results.
 */
import { describe, expect, it } from 'vitest';
import { toAnthropicMessages } from '../../src/core/providers/anthropic.js';
import { toOllamaMessages } from '../../src/core/providers/ollama.js';
import { toOpenAIMessages } from '../../src/core/providers/openai.js';
import { pairToolCalls } from '../../src/core/providers/tool-history.js';
import type { ChatMessage } from '../../src/core/providers/types.js';

const ask: ChatMessage = { role: 'user', content: 'What is in src?' };
const calls = (...ids: string[]): ChatMessage => ({
  role: 'assistant',
  content: '',
  toolCalls: ids.map((id) => ({ id, name: 'list_files', arguments: '{"path":"src"}' })),
});
const result = (id: string, content = 'a.ts b.ts'): ChatMessage => ({ role: 'tool', toolCallId: id, toolName: 'list_files', content });

describe(pairToolCalls.name, () => {
  it('should leave out a call whose result never came, keeping the text', () => {
    const history: ChatMessage[] = [ask, { ...calls('c1'), content: 'Looking.' }, { role: 'user', content: 'never mind' }];
    expect(pairToolCalls(history)).toEqual([ask, { role: 'assistant', content: 'Looking.' }, { role: 'user', content: 'never mind' }]);
  });

  it('should turn a result whose call was cut from the history into user text', () => {
    const history: ChatMessage[] = [result('c0', 'old output'), ask];
    expect(pairToolCalls(history)[0]).toEqual({ role: 'user', content: 'Result of tool list_files: old output' });
  });

  it('should keep only the answered calls, and put a stray result after the answered ones', () => {
    const history: ChatMessage[] = [ask, calls('c1', 'c2'), result('zz', 'stray'), result('c2')];
    const paired = pairToolCalls(history);
    expect(paired[1]!.toolCalls!.map((c) => c.id)).toEqual(['c2']);
    expect(paired.slice(2).map((m) => m.role)).toEqual(['tool', 'user']);
  });
});

describe(toAnthropicMessages.name, () => {
  it('should merge the results and the next user message into one turn, results first', () => {
    const { messages } = toAnthropicMessages([ask, calls('c1', 'c2'), result('c1'), result('c2', ''), { role: 'user', content: 'and tests?' }]);
    expect(messages).toHaveLength(3);
    expect(messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'c1', content: 'a.ts b.ts' },
        // an empty result is sent without content: empty text is refused
        { type: 'tool_result', tool_use_id: 'c2' },
        { type: 'text', text: 'and tests?' },
      ],
    });
  });

  it('should send arguments that are not a JSON object as an empty input', () => {
    const broken: ChatMessage = { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'list_files', arguments: '{"path": "sr' }] };
    const { messages } = toAnthropicMessages([ask, broken, result('c1', 'invalid arguments')]);
    expect(messages[1]!.content).toEqual([{ type: 'tool_use', id: 'c1', name: 'list_files', input: {} }]);
  });

  it('should send an assistant turn whose calls all went unanswered as no turn at all', () => {
    const { messages } = toAnthropicMessages([ask, calls('c1'), { role: 'user', content: 'hello?' }]);
    expect(messages).toEqual([{ role: 'user', content: 'What is in src?\n\nhello?' }]);
  });
});

describe(toOpenAIMessages.name, () => {
  it('should send null content beside the calls of an assistant message without text', () => {
    const [, assistant] = toOpenAIMessages([ask, calls('c1'), result('c1')]);
    expect(assistant).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ id: 'c1' }] });
  });
});

describe(toOllamaMessages.name, () => {
  it('should send invalid arguments as an empty object and a result without a name without tool_name', () => {
    const broken: ChatMessage = { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'list_files', arguments: 'nope' }] };
    const [, assistant, tool] = toOllamaMessages([ask, broken, { role: 'tool', toolCallId: 'call_1', content: 'bad' }]);
    expect(assistant!.tool_calls).toEqual([{ function: { name: 'list_files', arguments: {} } }]);
    expect(tool).toEqual({ role: 'tool', content: 'bad' });
  });
});
