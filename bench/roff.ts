/**
 * A small reader of manual pages (man and mdoc roff) into Markdown, for the knowledge bench:
 * section titles become headings, font and character escapes go, requests that only lay the
 * page out are dropped. Good enough to index a page's words, not to typeset it.
 */

export interface ManPage {
  /** the names before the dash of the NAME section: "gzip, gunzip" → ["gzip", "gunzip"] */
  names: string[];
  /** what the NAME section says the command does: "list directory contents" */
  description: string;
  markdown: string;
}

const CHARACTERS: Record<string, string> = {
  em: '—', en: '–', hy: '-', aq: "'", dq: '"', lq: '"', rq: '"', oq: "'", cq: "'", bu: '•', co: '©', rg: '®', tm: '™',
  mi: '-', pl: '+', mu: '×', di: '÷', ti: '~', ha: '^', rs: '\\', ga: '`', at: '@', sh: '#', dg: '†', lh: '<', rh: '>',
};

/** A line of roff text without its escapes. */
export function unescape(text: string): string {
  return text
    .replace(/\\".*$/, '')
    .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\s[+-]?(\d|\(\d\d|\[\d+\])/g, '')
    .replace(/\\\((..)/g, (_, name: string) => CHARACTERS[name] ?? '')
    .replace(/\\\[([^\]]*)\]/g, (_, name: string) => CHARACTERS[name] ?? '')
    .replace(/\\\*(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\[nk](\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\[hvwoxlLbDXZ]'[^']*'/g, '')
    .replace(/\\[-]/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\[ ~0]/g, ' ')
    .replace(/\\[&|^,/c%:!{})tad]/g, '')
    .replace(/\\(.)/g, '$1');
}

/** A request's arguments: words, or "quoted phrases". */
function args(rest: string): string[] {
  return (rest.match(/"[^"]*"|\S+/g) ?? []).map((a) => unescape(a.replace(/^"|"$/g, '')));
}

const BREAKS = new Set(['PP', 'LP', 'P', 'TP', 'sp', 'br', 'Pp', 'Bl', 'El', 'Bd', 'Ed', 'RS', 'RE', 'nf', 'fi', 'TQ', 'HP', 'EX', 'EE', 'Lp']);
/** font macros whose arguments alternate fonts, written without spaces between them */
const ALTERNATING = new Set(['BR', 'RB', 'IR', 'RI', 'BI', 'IB']);
/** requests that carry no text of the page */
const LAYOUT = new Set(['TH', 'Dd', 'Dt', 'Os', 'ad', 'na', 'nh', 'hy', 'ft', 'in', 'ti', 'ne', 'ds', 'nr', 'so', 'ie', 'if', 'el', 'ta', 'ps', 'vs', 'ns', 'rs', 'ss', 'cs', 'ig', 'tr', 'ce', 'PD', 'UC', 'DT', 'll', 'lf', 'mso', 'rm', 'als', 'cc', 'ec', 'eo', 'fam', 'char']);

export function readManPage(roff: string): ManPage {
  const out: string[] = [];
  let paragraph: string[] = [];
  let section = '';
  const nameLines: string[] = [];
  const flush = (): void => {
    if (paragraph.length) out.push(paragraph.join(' ').replace(/\s+/g, ' ').trim());
    paragraph = [];
  };
  const text = (line: string): void => {
    const clean = line.trim();
    if (!clean) return;
    paragraph.push(clean);
    if (section === 'NAME') nameLines.push(clean);
  };
  const heading = (level: number, title: string): void => {
    flush();
    out.push(`${'#'.repeat(level)} ${title}`);
  };
  const lines = roff.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (/^[.']\s*(\\".*)?$/.test(raw)) continue;
    if (/^[.']\s*(de|ig)\b/.test(raw)) {
      // a macro definition or ignored block, up to its ".."
      while (i + 1 < lines.length && !/^\.\.\s*$/.test(lines[i + 1]!)) i++;
      i++;
      continue;
    }
    const request = /^[.']\s*(\S+)\s?(.*)$/.exec(raw);
    if (!request) {
      text(unescape(raw));
      continue;
    }
    const [, name, rest] = request as unknown as [string, string, string];
    if (name === 'TH' || name === 'Dt') {
      const [title, volume] = args(rest);
      if (title) heading(1, `${title.toLowerCase()}${volume ? `(${volume})` : ''}`);
    } else if (name === 'SH' || name === 'Sh') {
      section = args(rest).join(' ').toUpperCase();
      heading(2, section);
    } else if (name === 'SS' || name === 'Ss') {
      heading(3, args(rest).join(' '));
    } else if (name === 'IP' || name === 'It') {
      flush();
      const [tag] = args(rest);
      if (tag) text(tag);
    } else if (BREAKS.has(name)) {
      flush();
    } else if (ALTERNATING.has(name)) {
      text(args(rest).join(''));
    } else if (name === 'Nd') {
      text(`- ${args(rest).join(' ')}`);
    } else if (name === 'Fl') {
      text(args(rest).map((a) => `-${a}`).join(' '));
    } else if (LAYOUT.has(name) || name.startsWith('\\')) {
      continue;
    } else {
      // .B, .I, .SM and mdoc's inline macros (.Nm, .Ar, .Pa, …): their words are text
      text(args(rest).filter((a) => !/^(Ns|Pq|Op|Oo|Oc|Ar|Pa|Xr|Cm|Ic|Nm|Em|Sy|Li|Dq|Sq|Ql|Fl)$/.test(a)).join(' '));
    }
  }
  flush();
  const name = nameLines.join(' ').replace(/\s+/g, ' ');
  const dash = /^(.*?)\s+[-–—]+\s+(.*)$/.exec(name);
  return {
    names: dash ? dash[1]!.split(/[,\s]+/).filter(Boolean) : [],
    description: dash ? dash[2]!.trim() : '',
    markdown: out.join('\n\n'),
  };
}
