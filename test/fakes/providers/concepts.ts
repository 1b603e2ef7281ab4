/**
 * A fake embedding model whose vectors mean something: words of one concept group ("ceph",
 * "osd", "rebalance", "placement") share an axis, so texts about the same thing point the same
 * way even when they share no word, and ranking by similarity can be checked. Words in no group
 * get an axis of their own from a hash, with a small weight, like the noise of a real model.
 */
export function conceptEmbedder(groups: ReadonlyArray<readonly string[]>): (text: string, dimension: number) => number[] {
  const axisOf = new Map<string, number>();
  groups.forEach((words, axis) => words.forEach((word) => {
    axisOf.set(word.toLowerCase(), axis);
    axisOf.set(stem(word.toLowerCase()), axis);
  }));
  return (text, dimension) => {
    if (groups.length >= dimension) throw new Error(`${groups.length} concept groups need more than ${dimension} dimensions`);
    const vector = new Array<number>(dimension).fill(0);
    for (const raw of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      const word = stem(raw);
      const axis = axisOf.get(word) ?? axisOf.get(raw);
      if (axis !== undefined) {
        vector[axis]! += 1;
      } else {
        vector[groups.length + (hash(word) % (dimension - groups.length))]! += 0.15;
      }
    }
    const norm = Math.hypot(...vector) || 1;
    return vector.map((v) => Math.fround(v / norm));
  };
}

/** "rebalancing" → "rebalanc", "rebalance" → "rebalanc": enough for the fake's word groups. */
function stem(word: string): string {
  return word.replace(/(ing|ed|es|e|s)$/, '');
}

function hash(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
