import { describe, expect, it } from 'vitest';
import { MIN_SPLIT_LENGTH, splitFirst, splitMessage } from './split.js';

const FAMILY = '👨‍👩‍👧‍👦';
const FLAGS = ['🇫🇷', '🇯🇵', '🇧🇷', '🇩🇪'];
const WORDS = ['the', 'cluster', 'restarts', 'node', 'kubectl', 'value', 'a', 'réseau', 'e\u0301te\u0301', '👍🏽', '❤️'];
const CJK = ['日本語の文章', '中文句子测试', '한국어', '。', '，'];
const INFOS = ['ts', 'python', '', 'bash', 'js title="x.js"'];

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMarkdown(random: () => number): string {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const token = (): string => {
    const roll = random();
    if (roll < 0.55) return pick(WORDS);
    if (roll < 0.7) return pick(CJK);
    if (roll < 0.8) return FAMILY.repeat(1 + int(3));
    if (roll < 0.9) return Array.from({ length: 1 + int(4) }, () => pick(FLAGS)).join('');
    return 'x'.repeat(10 + int(120));
  };
  const blocks: string[] = [];
  const blockCount = 1 + int(8);
  for (let b = 0; b < blockCount; b++) {
    if (random() < 0.3) {
      const marker = random() < 0.8 ? '```' : '````';
      const lines = Array.from({ length: int(25) }, () =>
        ' '.repeat(int(6)) + Array.from({ length: int(12) }, token).join(random() < 0.8 ? ' ' : ''),
      );
      const closed = b < blockCount - 1 || random() < 0.7;
      blocks.push([marker + pick(INFOS), ...lines, ...(closed ? [marker] : [])].join('\n'));
    } else {
      const sentences = Array.from({ length: 1 + int(6) }, () => {
        const words = Array.from({ length: 1 + int(20) }, token).join(' ');
        return words + pick(['.', '!', '?', '', ':']);
      });
      blocks.push(sentences.join(random() < 0.2 ? '\n' : ' '));
    }
  }
  return blocks.join(random() < 0.7 ? '\n\n' : '\n');
}

/** An independent reading of fences: each chunk must leave no code block open. */
function fencesBalanced(chunk: string): boolean {
  let open: string | null = null;
  for (const line of chunk.split('\n')) {
    const marker = /^ {0,3}(`{3,})/.exec(line)?.[1];
    if (!marker) continue;
    if (open === null && !line.slice(line.indexOf(marker) + marker.length).includes('`')) open = marker;
    else if (open !== null && line.trim().startsWith(open) && /^`+$/.test(line.trim())) open = null;
  }
  return open === null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function cutsInsideGrapheme(chunk: string): boolean {
  const starts = /^[\u200D\u0301\uFE0F]|^\uD83C[\uDFFB-\uDFFF]/.test(chunk);
  const ends = /\u200D$/.test(chunk);
  const oddFlags = (chunk.match(/(?:\uD83C[\uDDE6-\uDDFF])+/g) ?? []).some((run) => run.length % 4 !== 0);
  return starts || ends || oddFlags;
}

/** Joins chunks back, allowing each to have gained a reopened fence and a closing fence. */
function reconstructs(text: string, chunks: string[]): boolean {
  const squash = (s: string) => s.replace(/\s+/g, '');
  const original = squash(text);
  const seen = new Set<string>();
  const walk = (k: number, at: number): boolean => {
    if (k === chunks.length) return at === original.length;
    const key = `${k}:${at}`;
    if (seen.has(key)) return false;
    seen.add(key);
    const chunk = chunks[k] as string;
    const lines = chunk.split('\n');
    const reopened = /^(`{3,}|~{3,})/.test(lines[0] ?? '') ? squash(lines[0] ?? '') : null;
    const closed = lines.length > 1 && /^(`{3,}|~{3,})$/.test(lines.at(-1) ?? '') ? squash(lines.at(-1) ?? '') : null;
    const whole = squash(chunk);
    for (const head of reopened ? [0, reopened.length] : [0]) {
      for (const tail of closed ? [0, closed.length] : [0]) {
        const core = whole.slice(head, whole.length - tail);
        if (original.startsWith(core, at) && walk(k + 1, at + core.length)) return true;
      }
    }
    return false;
  };
  return walk(0, 0);
}

describe('splitMessage', () => {
  describe('with random Markdown', () => {
    it('should keep every chunk within the limit, whole and reconstructible', () => {
      const random = prng(20240601);
      for (let i = 0; i < 3000; i++) {
        const text = randomMarkdown(random);
        const max = 48 + Math.floor(random() * (random() < 0.5 ? 80 : 600));
        const chunks = splitMessage(text, max);
        const broken = chunks.find(
          (chunk) =>
            chunk.length > max ||
            chunk.trim() === '' ||
            chunk !== chunk.trimEnd() ||
            !fencesBalanced(chunk) ||
            LONE_SURROGATE.test(chunk) ||
            cutsInsideGrapheme(chunk),
        );
        if (broken !== undefined || chunks.length === 0 || !reconstructs(text, chunks)) {
          expect.fail(`case ${i}, max ${max}: ${JSON.stringify({ text, chunks, broken })}`);
        }
      }
    });

    it('should agree with splitFirst, chunk by chunk', () => {
      const random = prng(7);
      for (let i = 0; i < 300; i++) {
        const text = randomMarkdown(random);
        const max = 40 + Math.floor(random() * 300);
        const chunks = splitMessage(text, max);
        const first = splitFirst(text, max);
        expect(first.chunk).toBe(chunks[0]);
        expect(first.rest === '' ? [] : splitMessage(first.rest, max)).toEqual(chunks.slice(1));
      }
    });
  });

  describe('examples', () => {
    it('should return nothing for an empty or blank answer', () => {
      expect(splitMessage('', 2000)).toEqual([]);
      expect(splitMessage(' \n\n ', 2000)).toEqual([]);
    });

    it('should keep a short answer as one message', () => {
      expect(splitMessage('Restart the container with `docker restart web`.\n', 2000)).toEqual([
        'Restart the container with `docker restart web`.',
      ]);
    });

    it('should split a long Discord answer at paragraph breaks', () => {
      const paragraph = (n: number) => `Paragraph ${n}. ` + 'The backup ran and was verified. '.repeat(20).trim();
      const text = Array.from({ length: 12 }, (_, n) => paragraph(n)).join('\n\n');
      const chunks = splitMessage(text, 2000);
      expect(chunks.length).toBeGreaterThan(1);
      for (const chunk of chunks) {
        expect(chunk.length).toBeLessThanOrEqual(2000);
        expect(chunk).toMatch(/^Paragraph \d+\./);
        expect(chunk).toMatch(/verified\.$/);
      }
      expect(chunks.join('\n\n')).toBe(text);
    });

    it('should carry a code block across three messages, closing and reopening the fence', () => {
      const code = Array.from({ length: 140 }, (_, n) => `  const line${n} = compute(${n}, "value");`);
      const text = ['Here is the whole module:', '', '```ts', ...code, '```', '', 'Run it with `tsx`.'].join('\n');
      const chunks = splitMessage(text, 2000);
      expect(chunks).toHaveLength(3);
      expect(chunks[0]).toMatch(/^Here is the whole module:\n\n```ts\n {2}const line0/);
      expect(chunks[0]).toMatch(/;\n```$/);
      expect(chunks[1]).toMatch(/^```ts\n {2}const line\d+/);
      expect(chunks[1]).toMatch(/;\n```$/);
      expect(chunks[2]).toMatch(/^```ts\n/);
      expect(chunks[2]).toMatch(/```\n\nRun it with `tsx`\.$/);
      const codeLines = chunks.flatMap((chunk) => chunk.split('\n')).filter((line) => line.startsWith('  const'));
      expect(codeLines).toEqual(code);
    });

    it('should prefer ending a sentence to cutting mid-sentence', () => {
      const text = 'One short sentence here. '.repeat(20).trim();
      for (const chunk of splitMessage(text, 120)) expect(chunk).toMatch(/here\.$/);
    });

    it('should never split an emoji family or a flag, even without spaces', () => {
      const families = FAMILY.repeat(30);
      for (const chunk of splitMessage(families, 40)) expect(chunk).toMatch(/^(?:👨‍👩‍👧‍👦)+$/u);
      const flags = '🇫🇷🇯🇵'.repeat(40);
      for (const chunk of splitMessage(flags, 17)) expect(chunk.length % 4).toBe(0);
    });

    it('should close a code block the answer left open', () => {
      expect(splitMessage('Try:\n```bash\nsudo systemctl restart', 2000)).toEqual([
        'Try:\n```bash\nsudo systemctl restart\n```',
      ]);
    });

    it('should drop the info string of a code block when it leaves no room for code', () => {
      const chunks = splitMessage(`\`\`\`ts ${'x'.repeat(40)}\nconst a = 1;\nconst b = 2;\n\`\`\``, 30);
      expect(chunks).toEqual(['```\nconst a = 1;\n```', '```\nconst b = 2;\n```']);
    });

    it('should refuse a limit too small to hold a code fence', () => {
      expect(() => splitMessage('hello', MIN_SPLIT_LENGTH - 1)).toThrow(RangeError);
    });
  });
});
