import { describe, expect, it } from 'vitest';
import { markdownToMrkdwn } from './format.js';

describe('markdownToMrkdwn', () => {
  it('should turn Markdown emphasis, links, lists and headings into mrkdwn', () => {
    expect(markdownToMrkdwn('**Bold** and *italic* and ~~gone~~')).toBe('*Bold* and _italic_ and ~gone~');
    expect(markdownToMrkdwn('See [the docs](https://example.com/a_b?x=1&y=2).')).toBe('See <https://example.com/a_b?x=1&y=2|the docs>.');
    expect(markdownToMrkdwn('## Steps\n- first\n  * nested')).toBe('*Steps*\n• first\n  • nested');
  });

  it('should leave code alone and escape what Slack treats as markup', () => {
    const md = 'Use `a **not bold** <b>` then:\n```bash\necho "**raw**" > out.txt\n```\n1 < 2 & 3 > 2';
    expect(markdownToMrkdwn(md)).toBe('Use `a **not bold** <b>` then:\n```\necho "**raw**" > out.txt\n```\n1 &lt; 2 &amp; 3 &gt; 2');
  });

  it('should never leave raw double asterisks in prose', () => {
    const out = markdownToMrkdwn('A **strong** claim, **another one**, and a lone ** pair');
    expect(out).toBe('A *strong* claim, *another one*, and a lone ** pair');
  });
});
