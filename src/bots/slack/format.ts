/**
 * Markdown (what models write) to Slack mrkdwn: *bold*, _italic_, ~strike~, <url|text> links,
 * • bullets, headings as bold lines. Code blocks and inline code pass through untouched, and
 * &, <, > are escaped everywhere else as Slack requires.
 */
export function markdownToMrkdwn(markdown: string): string {
  const out: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      out.push(line.trim().startsWith('~~~') ? line.replace('~~~', '```') : line.replace(/^(\s*```)\S*$/, '$1'));
      continue;
    }
    out.push(inFence ? line : convertLine(line));
  }
  return out.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function convertLine(line: string): string {
  const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
  if (heading) return `*${convertInline(heading[1]!)}*`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) return `${bullet[1]}• ${convertInline(bullet[2]!)}`;
  const quote = /^\s*>\s?(.*)$/.exec(line);
  if (quote) return `> ${convertInline(quote[1]!)}`;
  return convertInline(line);
}

/** Inline spans outside `code`: links, bold, italics, strikethrough. */
function convertInline(text: string): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part, index) => (index % 2 === 1 ? part : convertSpan(part)))
    .join('');
}

function convertSpan(text: string): string {
  const links: string[] = [];
  // links first, so their URLs are not touched by the emphasis rules
  let converted = text.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label: string, url: string) => {
    links.push(`<${url}|${escape(label).replace(/[|]/g, '¦')}>`);
    return `\u0000${links.length - 1}\u0000`;
  });
  converted = escape(converted)
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, '\u0001$1\u0001')
    .replace(/__(?=\S)(.+?)(?<=\S)__/g, '\u0001$1\u0001')
    .replace(/(^|[^*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\*)/g, '$1_$2_')
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '~$1~')
    .replace(/\u0001/g, '*');
  return converted.replace(/\u0000(\d+)\u0000/g, (_, i: string) => links[Number(i)]!);
}
