/** Edit distance (insertions, deletions, substitutions) between two short names. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Letters and digits only, lower case: `batch_size`, `Batch-Size` and `batchSize` agree. */
function normalized(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** The known name closest to a misspelt one, if one is close enough to be meant. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = normalized(name);
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const d = distance(wanted, normalized(candidate));
    if (!best || d < best.distance) best = { name: candidate, distance: d };
  }
  if (!best) return undefined;
  return best.distance <= Math.max(1, Math.floor(wanted.length / 4)) ? best.name : undefined;
}

/** ` (did you mean 'x'?)` or nothing. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = closestName(name, known);
  return near === undefined ? '' : ` (did you mean '${near}'?)`;
}
