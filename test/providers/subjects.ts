/**
 * The three providers as the conformance suites meet them: each through its real SDK against its
 * fake, with what differs between them written down here once.
 */
import { createAnthropicProvider } from '../../src/core/providers/anthropic.js';
import { createOllamaProvider } from '../../src/core/providers/ollama.js';
import { createOpenAIProvider } from '../../src/core/providers/openai.js';
import { expect } from 'vitest';
import type { ChatMessage, Provider, ToolSpec } from '../../src/core/providers/types.js';
import { startFakeAnthropic, startFakeOllama, startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';

export interface Subject {
  label: string;
  model: string;
  stopReason: string;
  start(): Promise<FakeProviderServer>;
  create(url: string): Provider;
  /** the stop reason of an answer that calls tools */
  toolStopReason: string;
  /** the id a scripted call arrives with: the server's own, or (Ollama) the n-th made up, unique in the conversation */
  callId(scripted: string, n: number): string;
  /** `TOOLS` as this provider's wire names them */
  toolsWire: unknown;
  /** `TOOL_HISTORY` as this provider's wire carries it */
  toolHistoryWire: unknown;
}

export const TOOLS: ToolSpec[] = [
  {
    name: 'get_weather',
    description: 'Current weather in a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  { name: 'list_files', description: 'Files in the workspace', inputSchema: { type: 'object', properties: {} } },
];

/** A turn that called two tools, one of which failed, and the results. */
export const TOOL_HISTORY: ChatMessage[] = [
  { role: 'user', content: 'Weather in Paris and Oslo?' },
  {
    role: 'assistant',
    content: 'Checking both.',
    toolCalls: [
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ],
  },
  { role: 'tool', toolCallId: 'call_a', toolName: 'get_weather', content: '18°C, sunny' },
  { role: 'tool', toolCallId: 'call_b', toolName: 'get_weather', content: 'station offline', isError: true },
];

/** OpenAI and Ollama name tools alike. */
const FUNCTION_TOOLS = TOOLS.map((t) => ({
  type: 'function',
  function: { name: t.name, description: t.description, parameters: t.inputSchema },
}));

const USER_ASKS = { role: 'user', content: 'Weather in Paris and Oslo?' };

export const subjects: Subject[] = [
  {
    label: 'openai',
    model: 'gpt-4o-mini',
    stopReason: 'stop',
    start: () => startFakeOpenAI(),
    create: (url) => createOpenAIProvider({ name: 'oa', baseURL: url }),
    toolStopReason: 'tool_calls',
    callId: (scripted) => scripted,
    toolsWire: FUNCTION_TOOLS,
    toolHistoryWire: [
      USER_ASKS,
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '18°C, sunny' },
      // no error flag in this format: the text says it
      { role: 'tool', tool_call_id: 'call_b', content: 'Error: station offline' },
    ],
  },
  {
    label: 'anthropic',
    model: 'claude-sonnet-4-6',
    stopReason: 'end_turn',
    start: () => startFakeAnthropic(),
    create: (url) => createAnthropicProvider({ name: 'an', baseURL: url, apiKey: 'sk-test' }),
    toolStopReason: 'tool_use',
    callId: (scripted) => scripted,
    toolsWire: TOOLS.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema })),
    toolHistoryWire: [
      USER_ASKS,
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_b', name: 'get_weather', input: { city: 'Oslo' } },
        ],
      },
      // both results in one user turn, right after the calls
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_a', content: '18°C, sunny' },
          { type: 'tool_result', tool_use_id: 'call_b', content: 'station offline', is_error: true },
        ],
      },
    ],
  },
  {
    label: 'ollama',
    model: 'llama3.2',
    stopReason: 'stop',
    start: () => startFakeOllama(),
    create: (url) => createOllamaProvider({ name: 'ol', host: url }),
    toolStopReason: 'stop',
    callId: (_scripted, n) => expect.stringMatching(new RegExp(`^call_${n}_[0-9a-f]{12}$`)) as unknown as string,
    toolsWire: FUNCTION_TOOLS,
    toolHistoryWire: [
      USER_ASKS,
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
          { function: { name: 'get_weather', arguments: { city: 'Oslo' } } },
        ],
      },
      { role: 'tool', content: '18°C, sunny', tool_name: 'get_weather' },
      { role: 'tool', content: 'Error: station offline', tool_name: 'get_weather' },
    ],
  },
];
