import { describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { StreamOutcome } from '../providers/router.js';
import { footerOf, outcomeNotice } from './notices.js';

const byExperience: ModelChoice = { modelId: 'openai/gpt-4o', source: 'experience', candidates: ['openai/gpt-4o', 'anthropic/claude-haiku'] };
const picked: ModelChoice = { ...byExperience, source: 'conversation' };

function outcome(status: StreamOutcome['status'], changes: Partial<StreamOutcome> = {}): StreamOutcome {
  return { modelId: 'openai/gpt-4o', text: '', toolCalls: [], usage: null, stopReason: null, status, error: null, failures: [], ttftMs: null, latencyMs: 10, ...changes };
}

const overloaded = new ProviderError('server', 'HTTP 529');
const failedFirst = { modelId: 'anthropic/claude-haiku', failures: [{ modelId: 'openai/gpt-4o', error: overloaded }] };

describe('turn notices', () => {
  it('should say nothing under an answer the chosen model gave', () => {
    expect(footerOf([outcomeNotice(outcome('ok'), byExperience)])).toBeUndefined();
  });

  it('should name the fallback that answered, and tell a user who picked the model that it did not', () => {
    const reason = overloaded.userMessage;
    expect(footerOf([outcomeNotice(outcome('ok', failedFirst), byExperience)])).toBe(`↪ Answered by anthropic/claude-haiku (openai/gpt-4o: ${reason}).`);
    expect(footerOf([outcomeNotice(outcome('ok', failedFirst), picked)])).toBe(`↪ You picked openai/gpt-4o, but ${reason}; anthropic/claude-haiku answered instead.`);
  });

  it('should say how an answer ended when it did not finish', () => {
    const error = new ProviderError('timeout', 'no first token within 3000 ms');
    expect(footerOf([outcomeNotice(outcome('partial', { text: 'half', error }), byExperience)])).toBe(`⚠ The answer was cut off (${error.userMessage}); what arrived is kept.`);
    expect(footerOf([outcomeNotice(outcome('aborted'), byExperience)])).toBe('⏹ Stopped.');
    expect(footerOf([outcomeNotice(outcome('error', { error: overloaded, failures: failedFirst.failures }), byExperience)])).toBe(
      `⚠ No answer: ${overloaded.userMessage}. Tried openai/gpt-4o. Try again in a moment.`,
    );
  });

  it('should name the way out when no model answered', () => {
    const failed = (modelId: string, error: ProviderError) => outcome('error', { error, failures: [{ modelId, error }] });
    const down = new ProviderError('connection', 'fetch failed');
    expect(footerOf([outcomeNotice(failed('ollama/llama3.2', down), byExperience)])).toBe(
      '⚠ No answer: the model server could not be reached. Tried ollama/llama3.2. Ask whoever runs Threadloom to start Ollama (`ollama serve`), or pick another model with the `model` command.',
    );
    const missing = new ProviderError('unknown_model', 'model "qwen3" not found, try pulling it first');
    expect(footerOf([outcomeNotice(failed('ollama/qwen3', missing), byExperience)])).toContain('fetch it (`ollama pull qwen3`)');
    expect(footerOf([outcomeNotice(failed('openai/gpt-4o', new ProviderError('auth', '401')), byExperience)])).toContain("check the provider's API key");
  });

  it('should put one line per notice under the answer, in the order given', () => {
    const footer = footerOf([
      { kind: 'edited', branch: 2, of: 2, buttons: false },
      null,
      { kind: 'truncated', kept: 12, summaryFailed: true },
      { kind: 'budget', line: 'You have used 80% of your daily budget.' },
    ]);
    expect(footer?.split('\n')).toEqual([
      '✎ This answers your edited message (branch 2/2); the earlier version stays reachable with `branch prev`.',
      'ℹ Only the last 12 messages were used (summarising failed).',
      'You have used 80% of your daily budget.',
    ]);
  });
});
