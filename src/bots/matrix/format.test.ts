import { describe, expect, it } from 'vitest';
import { markdownToHtml } from './format.js';

describe('markdownToHtml', () => {
  it('renders Markdown: emphasis, code blocks with their language, lists, links', () => {
    const html = markdownToHtml('**bold** and `code`\n\n```js\nconst a = 1;\n```\n\n- one\n- two\n\n[docs](https://example.org/a?b=1&c=2)');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<pre><code class="language-js">const a = 1;');
    expect(html).toContain('<li>one</li>');
    expect(html).toContain('<a href="https://example.org/a?b=1&amp;c=2">docs</a>');
  });

  it('shows raw HTML from the model as text and drops unsafe links and remote images', () => {
    const html = markdownToHtml('<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) ![pic](https://tracker.example/p.png)');
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('<a href="https://tracker.example/p.png">pic</a>');
  });
});
