import { describe, expect, it } from 'vitest';
import { StreamingSave } from './answer-stream.js';

function saver(failing = false) {
  let clock = 0;
  const saved: string[] = [];
  const warnings: string[] = [];
  const save = new StreamingSave(
    async (text) => {
      if (failing) throw new Error('disk full');
      saved.push(text);
    },
    { warn: (message) => void warnings.push(message) },
    () => clock,
  );
  return { save, saved, warnings, advance: (ms: number) => (clock += ms) };
}

describe(StreamingSave.name, () => {
  it('should save the text so far every two seconds of streaming, not on every piece', async () => {
    const { save, saved, advance } = saver();
    save.push('Hel');
    advance(1_999);
    save.push('lo');
    await save.done();
    expect(saved).toEqual([]);
    advance(1);
    save.push(', wor');
    advance(500);
    save.push('ld');
    await save.done();
    expect(saved).toEqual(['Hello, wor']);
    advance(2_000);
    save.push('!');
    await save.done();
    expect(saved).toEqual(['Hello, wor', 'Hello, world!']);
  });

  it('should log a failed save and keep the stream going', async () => {
    const { save, warnings, advance } = saver(true);
    advance(2_000);
    save.push('text');
    await expect(save.done()).resolves.toBeUndefined();
    expect(warnings).toEqual(['saving a streaming answer failed']);
  });
});
