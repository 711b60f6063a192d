/**
 * Many strings as one, to cross to a worker thread: one string copy instead of a structured
 * clone of 10^5 strings. `ends[i]` is where string i ends in `text`.
 */
export interface PackedStrings {
  text: string;
  ends: Uint32Array;
}

export function packStrings(strings: readonly string[]): PackedStrings {
  const ends = new Uint32Array(strings.length);
  let end = 0;
  strings.forEach((s, i) => {
    end += s.length;
    ends[i] = end;
  });
  return { text: strings.join(''), ends };
}

export function unpackStrings({ text, ends }: PackedStrings): string[] {
  const out = new Array<string>(ends.length);
  let start = 0;
  ends.forEach((end, i) => {
    out[i] = text.slice(start, end);
    start = end;
  });
  return out;
}
