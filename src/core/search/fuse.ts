/** Reciprocal rank fusion's damping constant; 60 is the value of the original paper. */
export const RRF_K = 60;

/**
 * Merges ranked lists of ids: each id scores the sum of 1/(k + rank) over the lists it is in,
 * so an id near the top of either list ranks well, and one high in both ranks best.
 */
export function reciprocalRankFusion<T>(lists: ReadonlyArray<readonly T[]>, k = RRF_K): Array<{ id: T; score: number }> {
  const scores = new Map<T, number>();
  for (const list of lists) {
    list.forEach((id, index) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1)));
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}
