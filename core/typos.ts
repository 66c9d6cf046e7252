// Names that look like misspelled settings: a variable no part reads is otherwise ignored silently.

/** A name that is not known but lies within a typo of one that is. */
export interface LikelyTypo {
  name: string;
  suggestion: string;
}

/**
 * The `names` that are not in `known` but within a typo of one that is (edit distance 1 for
 * names under 8 characters, else 2), each with the first such known name.
 */
export function likelyTypos(names: Iterable<string>, known: readonly string[]): LikelyTypo[] {
  const knownSet = new Set(known);
  const found: LikelyTypo[] = [];
  for (const name of names) {
    if (knownSet.has(name)) continue;
    const limit = name.length < 8 ? 1 : 2;
    const suggestion = known.find((candidate) => editDistance(name, candidate) <= limit);
    if (suggestion !== undefined) found.push({ name, suggestion });
  }
  return found;
}

/** Levenshtein distance: single-character insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
