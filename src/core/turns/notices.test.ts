import { describe, expect, it } from 'vitest';
import { ProviderError } from '../errors.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { StreamOutcome } from '../providers/router.js';
import { footerOf, outcomeNotice } from './notices.js';

const byExperience: ModelChoice = { modelId: 'openai/gpt-4o', source: 'experience', candidates: ['openai/gpt-4o', 'anthropic/claude-haiku'] };
const picked: ModelChoice = { ...byExperience, source: 'conversation' };

function outcome(status: StreamOutcome['status'], changes: Partial<StreamOutcome> = {}): StreamOutcome {
  return { modelId: 'openai/gpt-4o', text: '', usage: null, stopReason: null, status, error: null, failures: [], ttftMs: null, latencyMs: 10, ...changes };
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
    expect(footerOf([outcomeNotice(outcome('error', { error: overloaded, failures: failedFirst.failures }), byExperience)])).toBe(`⚠ No answer: ${overloaded.userMessage}. Tried openai/gpt-4o.`);
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
