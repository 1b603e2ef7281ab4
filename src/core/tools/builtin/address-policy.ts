import { isIP } from 'node:net';

/**
 * Which addresses `fetch_url` may connect to. A model can be talked into fetching anything a
 * page or a user names, and Threadloom usually runs inside a home or office network: without
 * this check `fetch_url` would read the router's admin page or a cloud metadata endpoint for
 * whoever asks. Public unicast addresses pass; everything local or special is refused unless
 * the operator allows it by name or by CIDR.
 */

/** Why an address is not public, in the words of the refusal ("is a private address"). */
export type AddressKind = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'shared (CGNAT)' | 'multicast' | 'reserved';

interface Range {
  /** 4 or 16 bytes */
  prefix: Uint8Array;
  bits: number;
  kind: AddressKind;
}

function range(cidr: string, kind: AddressKind): Range {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`bad built-in range ${cidr}`);
  return { ...parsed, kind };
}

const V4_RANGES: Range[] = [
  range('0.0.0.0/8', 'unspecified'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared (CGNAT)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'),
  range('192.0.2.0/24', 'reserved'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'reserved'),
  range('198.51.100.0/24', 'reserved'),
  range('203.0.113.0/24', 'reserved'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'),
];

const V6_RANGES: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('100::/64', 'reserved'),
  range('2001:db8::/32', 'reserved'),
  range('fc00::/7', 'private'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'private'),
  range('ff00::/8', 'multicast'),
];

function parseV4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return Uint8Array.from(parts.map(Number));
}

function parseV6(text: string): Uint8Array | null {
  const bare = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(bare) !== 6) return null;
  let head = bare;
  let tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (v4) {
    const bytes = parseV4(v4[1]!);
    if (!bytes) return null;
    tail = [(bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!];
    head = bare.slice(0, v4.index + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const words = (s: string | undefined) => (s ? s.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const front = words(left);
  const back = [...(right === null ? [] : words(right)), ...tail];
  const fill = 8 - front.length - back.length;
  if (fill < 0 || (right === null && fill !== 0)) return null;
  const all = [...front, ...new Array<number>(fill).fill(0), ...back];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** The address as bytes: 4 for IPv4, 16 for IPv6; null when it is not an IP address. */
export function parseAddress(text: string): Uint8Array | null {
  return parseV4(text) ?? parseV6(text);
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/**
 * The IPv4 address an IPv6 one carries and that a host would reach through it: mapped
 * (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::).
 */
function embeddedV4(v6: Uint8Array): Uint8Array | null {
  const zeros = (n: number) => new Array<number>(n).fill(0);
  if (startsWith(v6, [...zeros(10), 0xff, 0xff])) return v6.slice(12);
  if (startsWith(v6, zeros(12)) && !(v6[12] === 0 && v6[13] === 0 && v6[14] === 0 && v6[15]! <= 1)) return v6.slice(12);
  if (startsWith(v6, [0x00, 0x64, 0xff, 0x9b, ...zeros(8)])) return v6.slice(12);
  if (startsWith(v6, [0x20, 0x02])) return v6.slice(2, 6);
  return null;
}

/** IPv4 for an IPv4 address or an IPv6 form of one; the address itself otherwise. */
function canonical(bytes: Uint8Array): Uint8Array {
  return bytes.length === 16 ? (embeddedV4(bytes) ?? bytes) : bytes;
}

function inRange(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  if (bytes.length !== prefix.length) return false;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((bytes[byte]! & mask) !== (prefix[byte]! & mask)) return false;
  }
  return true;
}

/** What kind of non-public address this is, or null for a public one (and for a non-address). */
export function classifyAddress(address: string): AddressKind | null {
  const parsed = parseAddress(address);
  if (!parsed) return null;
  const bytes = canonical(parsed);
  const ranges = bytes.length === 4 ? V4_RANGES : V6_RANGES;
  return ranges.find((r) => inRange(bytes, r.prefix, r.bits))?.kind ?? null;
}

/** `192.168.1.0/24`, `fd00::/8`, or one address (a /32 or /128). */
export function parseCidr(text: string): { prefix: Uint8Array; bits: number } | null {
  const [address, bitsText, ...rest] = text.trim().split('/');
  if (rest.length || !address) return null;
  const prefix = parseAddress(address);
  if (!prefix) return null;
  const max = prefix.length * 8;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) return null;
  return { prefix, bits };
}

/** A host name (`homeassistant.local`) or a wildcard under a domain (`*.lan`). */
const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

export function isAllowEntry(entry: string): boolean {
  return parseCidr(entry) !== null || HOST_NAME.test(entry.trim());
}

/** The operator's exceptions: names and CIDRs that may be fetched although they are local. */
export class AllowList {
  private readonly names: string[] = [];
  private readonly suffixes: string[] = [];
  private readonly cidrs: Array<{ prefix: Uint8Array; bits: number }> = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase().replace(/\.$/, '');
      const cidr = parseCidr(entry);
      if (cidr) {
        // `::ffff:192.168.1.0/120` means the same as `192.168.1.0/24`
        const prefix = canonical(cidr.prefix);
        this.cidrs.push({ prefix, bits: prefix.length < cidr.prefix.length ? Math.max(0, cidr.bits - 96) : cidr.bits });
      }
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else if (entry) this.names.push(entry);
    }
  }

  allowsName(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    return this.names.includes(name) || this.suffixes.some((s) => name.endsWith(s));
  }

  allowsAddress(address: string): boolean {
    const parsed = parseAddress(address);
    if (!parsed) return false;
    const bytes = canonical(parsed);
    return this.cidrs.some((c) => inRange(bytes, c.prefix, c.bits));
  }
}

/** Why fetching from this host at this address is refused, in words for the model; null if it may. */
export function refusal(host: string, address: string, allow: AllowList): string | null {
  const kind = classifyAddress(address);
  if (kind === null || allow.allowsName(host) || allow.allowsAddress(address)) return null;
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  const shown = host === address ? address : `${host} (${address})`;
  return `refused: ${shown} is ${article} ${kind} address (allow it in tools.fetchUrl.allowHosts)`;
}
