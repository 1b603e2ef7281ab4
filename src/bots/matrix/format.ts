import { Marked, type Tokens } from 'marked';

/** Characters that must not reach HTML as markup. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const SAFE_LINK = /^(https?:|mailto:|matrix:)/i;

/**
 * Markdown as Matrix's `org.matrix.custom.html`. Model output is untrusted: raw HTML in it is
 * shown as text, links keep only web/mail/matrix schemes, images become links (an `<img>` would
 * make every reader's client fetch a URL the model chose).
 */
const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    link({ href, tokens }: Tokens.Link): string {
      const label = this.parser.parseInline(tokens);
      return SAFE_LINK.test(href) ? `<a href="${escapeHtml(href)}">${label}</a>` : label;
    },
    image({ href, text }: Tokens.Image): string {
      return SAFE_LINK.test(href) ? `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>` : escapeHtml(text);
    },
  },
});

export function markdownToHtml(markdown: string): string {
  return (marked.parse(markdown) as string).trim();
}
