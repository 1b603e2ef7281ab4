const WORD = /[\p{L}\p{N}_]+/gu;

/**
 * A short plain-text excerpt of `content` around the first word of the query it contains
 * (matched by its first five letters, so "rebalancing" finds "rebalance"), or its start.
 */
export function snippetOf(content: string, query: string, width = 180): string {
  const text = content.replace(/\s+/g, ' ').trim();
  if (text.length <= width) return text;
  const stems = [...new Set((query.match(WORD) ?? []).map((w) => w.toLowerCase().slice(0, 5)).filter((w) => w.length >= 2))];
  const lower = text.toLowerCase();
  let at = -1;
  for (const stem of stems) {
    const found = lower.search(new RegExp(`(?<![\\p{L}\\p{N}_])${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'u'));
    if (found >= 0 && (at < 0 || found < at)) at = found;
  }
  let start = at < 0 ? 0 : Math.max(0, at - Math.floor(width / 3));
  if (start > 0) {
    const space = text.lastIndexOf(' ', start);
    start = space > start - 20 ? space + 1 : start;
  }
  let end = Math.min(text.length, start + width);
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    if (space > start + width / 2) end = space;
  }
  return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
}
