/**
 * A small longest-match scanner generator over UTF-16 code units, with the semantics of
 * classic lexer generators (lex, JFlex): at each position the rule with the longest match
 * wins, ties go to the rule listed first, and a rule may carry trailing context (`r1/r2`:
 * r1r2 counts for the longest-match race, only r1 is consumed; when several splits are
 * possible the longest r1 wins). Patterns are built with the combinators below, compiled
 * to one NFA and run as a lazily built DFA, so scanning costs a table look-up per character.
 */

/** Inclusive ranges of UTF-16 code units, sorted, non-overlapping, non-adjacent. */
export type Ranges = readonly (readonly [number, number])[];

export type Pattern =
  | { kind: 'set'; ranges: Ranges }
  | { kind: 'seq'; items: readonly Pattern[] }
  | { kind: 'alt'; items: readonly Pattern[] }
  | { kind: 'repeat'; item: Pattern; min: number; max: number };

const MAX_UNIT = 0xffff;

export function normalizeRanges(input: Iterable<readonly [number, number]>): Ranges {
  const sorted = [...input].map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function complementRanges(ranges: Ranges): Ranges {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_UNIT) out.push([next, MAX_UNIT]);
  return out;
}

/** Ranges from a flat [lo, hi, lo, hi, ...] list. */
export function rangesFromFlat(flat: readonly number[]): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return normalizeRanges(pairs);
}

/**
 * A character class from a compact spec: single characters and `a-z` style ranges, e.g.
 * `'A-Za-z0-9_'`. A `-` first or last is literal. Case-sensitive.
 */
export function charClass(spec: string, ...more: Ranges[]): Pattern {
  const pairs: [number, number][] = [];
  // Unescape first: `\\x` is a literal x (so `\\-` is a hyphen, `\\\\` a backslash).
  const units: { unit: number; escaped: boolean }[] = [];
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === '\\' && i + 1 < spec.length) {
      units.push({ unit: spec.charCodeAt(i + 1), escaped: true });
      i += 1;
    } else {
      units.push({ unit: spec.charCodeAt(i), escaped: false });
    }
  }
  for (let i = 0; i < units.length; i++) {
    const lo = units[i]!.unit;
    const dash = units[i + 1];
    if (dash && dash.unit === 0x2d && !dash.escaped && i + 2 < units.length) {
      pairs.push([lo, units[i + 2]!.unit]);
      i += 2;
    } else {
      pairs.push([lo, lo]);
    }
  }
  for (const r of more) pairs.push(...r.map(([a, b]) => [a, b] as [number, number]));
  return { kind: 'set', ranges: normalizeRanges(pairs) };
}

/** Every code unit not in the class spec. */
export function notClass(spec: string, ...more: Ranges[]): Pattern {
  const set = charClass(spec, ...more) as { kind: 'set'; ranges: Ranges };
  return { kind: 'set', ranges: complementRanges(set.ranges) };
}

export function setOf(ranges: Ranges): Pattern {
  return { kind: 'set', ranges };
}

export const anyUnit: Pattern = { kind: 'set', ranges: [[0, MAX_UNIT]] };

function caseVariants(ch: string): Ranges {
  const units = new Set<number>([ch.charCodeAt(0)]);
  for (const variant of [ch.toLowerCase(), ch.toUpperCase()]) {
    if (variant.length === 1) units.add(variant.charCodeAt(0));
  }
  return normalizeRanges([...units].map((u) => [u, u] as [number, number]));
}

/** A literal string, matched case-insensitively (letter by letter). */
export function lit(text: string): Pattern {
  const items = [...text].map((ch): Pattern => ({ kind: 'set', ranges: caseVariants(ch) }));
  return items.length === 1 ? items[0]! : { kind: 'seq', items };
}

/** A literal string, matched exactly. */
export function exact(text: string): Pattern {
  const items = [...text].map(
    (ch): Pattern => ({
      kind: 'set',
      ranges: [[ch.charCodeAt(0), ch.charCodeAt(0)]],
    }),
  );
  return items.length === 1 ? items[0]! : { kind: 'seq', items };
}

type Part = Pattern | string;

function part(p: Part): Pattern {
  return typeof p === 'string' ? lit(p) : p;
}

/** Sequence; plain strings are case-insensitive literals. */
export function seq(...items: Part[]): Pattern {
  return items.length === 1 ? part(items[0]!) : { kind: 'seq', items: items.map(part) };
}

/** Alternation; plain strings are case-insensitive literals. */
export function alt(...items: Part[]): Pattern {
  return items.length === 1 ? part(items[0]!) : { kind: 'alt', items: items.map(part) };
}

export function repeat(item: Part, min: number, max = Number.POSITIVE_INFINITY): Pattern {
  return { kind: 'repeat', item: part(item), min, max };
}

export const star = (item: Part): Pattern => repeat(item, 0);
export const plus = (item: Part): Pattern => repeat(item, 1);
export const opt = (item: Part): Pattern => repeat(item, 0, 1);

export interface Rule<A> {
  pattern: Pattern;
  /** Trailing context: must follow the pattern, is not consumed. */
  context?: Pattern;
  action: A;
}

interface NfaState {
  eps: number[];
  /** Index into the compiled sets, or -1. */
  set: number;
  next: number;
  /** Rule index when accepting, else -1. */
  accept: number;
}

class Nfa {
  readonly states: NfaState[] = [];
  readonly sets: Ranges[] = [];
  private readonly setIds = new Map<string, number>();

  add(): number {
    this.states.push({ eps: [], set: -1, next: -1, accept: -1 });
    return this.states.length - 1;
  }

  setId(ranges: Ranges): number {
    const key = ranges.map(([a, b]) => `${a}-${b}`).join(',');
    let id = this.setIds.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push(ranges);
      this.setIds.set(key, id);
    }
    return id;
  }

  /** Builds `pattern` between fresh states; returns [start, end]. */
  build(pattern: Pattern): [number, number] {
    switch (pattern.kind) {
      case 'set': {
        const start = this.add();
        const end = this.add();
        const s = this.states[start]!;
        s.set = this.setId(pattern.ranges);
        s.next = end;
        return [start, end];
      }
      case 'seq': {
        const start = this.add();
        let cursor = start;
        for (const item of pattern.items) {
          const [a, b] = this.build(item);
          this.states[cursor]!.eps.push(a);
          cursor = b;
        }
        return [start, cursor];
      }
      case 'alt': {
        const start = this.add();
        const end = this.add();
        for (const item of pattern.items) {
          const [a, b] = this.build(item);
          this.states[start]!.eps.push(a);
          this.states[b]!.eps.push(end);
        }
        return [start, end];
      }
      case 'repeat': {
        const start = this.add();
        let cursor = start;
        for (let i = 0; i < pattern.min; i++) {
          const [a, b] = this.build(pattern.item);
          this.states[cursor]!.eps.push(a);
          cursor = b;
        }
        if (pattern.max === Number.POSITIVE_INFINITY) {
          const [a, b] = this.build(pattern.item);
          const end = this.add();
          this.states[cursor]!.eps.push(a, end);
          this.states[b]!.eps.push(a, end);
          return [start, end];
        }
        const end = this.add();
        for (let i = pattern.min; i < pattern.max; i++) {
          const [a, b] = this.build(pattern.item);
          this.states[cursor]!.eps.push(a, end);
          cursor = b;
        }
        this.states[cursor]!.eps.push(end);
        return [start, end];
      }
    }
  }
}

interface DfaState {
  nfa: Int32Array;
  accept: number;
  /** Per character class: next DFA state, -1 dead, -2 not built yet. */
  next: Int32Array;
}

/** A compiled set of patterns that finds the longest match at a position. */
export class LongestMatcher {
  private readonly nfa: NfaState[];
  private readonly classOf: Uint16Array;
  /** membership[set][class] */
  private readonly membership: Uint8Array[];
  private readonly classCount: number;
  private readonly dfa: DfaState[] = [];
  private readonly dfaIds = new Map<string, number>();

  constructor(patterns: readonly Pattern[]) {
    const nfa = new Nfa();
    const start = nfa.add();
    patterns.forEach((pattern, index) => {
      const [a, b] = nfa.build(pattern);
      nfa.states[start]!.eps.push(a);
      nfa.states[b]!.accept = index;
    });
    this.nfa = nfa.states;
    // Partition the code units into classes that no set tells apart.
    const bounds = new Set<number>([0]);
    for (const ranges of nfa.sets) {
      for (const [lo, hi] of ranges) {
        bounds.add(lo);
        if (hi < MAX_UNIT) bounds.add(hi + 1);
      }
    }
    const starts = [...bounds].sort((a, b) => a - b);
    const classOf = new Uint16Array(MAX_UNIT + 1);
    const signatures = new Map<string, number>();
    const cursors = new Array<number>(nfa.sets.length).fill(0);
    const classMembers: boolean[][] = [];
    for (let i = 0; i < starts.length; i++) {
      const lo = starts[i]!;
      const hi = i + 1 < starts.length ? starts[i + 1]! - 1 : MAX_UNIT;
      const member: boolean[] = [];
      nfa.sets.forEach((ranges, s) => {
        let c = cursors[s]!;
        while (c < ranges.length && ranges[c]![1] < lo) c++;
        cursors[s] = c;
        member.push(c < ranges.length && ranges[c]![0] <= lo);
      });
      const key = member.map((m) => (m ? '1' : '0')).join('');
      let cls = signatures.get(key);
      if (cls === undefined) {
        cls = signatures.size;
        signatures.set(key, cls);
        classMembers.push(member);
      }
      classOf.fill(cls, lo, hi + 1);
    }
    this.classOf = classOf;
    this.classCount = signatures.size;
    this.membership = nfa.sets.map((_, s) => {
      const row = new Uint8Array(this.classCount);
      classMembers.forEach((member, cls) => {
        row[cls] = member[s] ? 1 : 0;
      });
      return row;
    });
    this.stateFor([start]);
  }

  private closure(seeds: readonly number[]): Int32Array {
    const seen = new Set<number>();
    const stack = [...seeds];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      for (const e of this.nfa[s]!.eps) if (!seen.has(e)) stack.push(e);
    }
    return Int32Array.from([...seen].sort((a, b) => a - b));
  }

  private stateFor(seeds: readonly number[]): number {
    const set = this.closure(seeds);
    if (set.length === 0) return -1;
    const key = set.join(',');
    const known = this.dfaIds.get(key);
    if (known !== undefined) return known;
    let accept = -1;
    for (const s of set) {
      const a = this.nfa[s]!.accept;
      if (a >= 0 && (accept < 0 || a < accept)) accept = a;
    }
    const id = this.dfa.length;
    this.dfa.push({ nfa: set, accept, next: new Int32Array(this.classCount).fill(-2) });
    this.dfaIds.set(key, id);
    return id;
  }

  private step(state: number, cls: number): number {
    const d = this.dfa[state]!;
    let next = d.next[cls]!;
    if (next !== -2) return next;
    const targets: number[] = [];
    for (const s of d.nfa) {
      const n = this.nfa[s]!;
      if (n.set >= 0 && this.membership[n.set]![cls] === 1) targets.push(n.next);
    }
    next = targets.length === 0 ? -1 : this.stateFor(targets);
    d.next[cls] = next;
    return next;
  }

  /**
   * Longest match starting at `pos` (ending no later than `limit`): sets `lastRule` and
   * `lastEnd` and returns true, or returns false when no pattern matches a non-empty prefix.
   */
  longest(text: string, pos: number, limit = text.length): boolean {
    let state = 0;
    let rule = -1;
    let end = -1;
    for (let i = pos; i < limit; i++) {
      state = this.step(state, this.classOf[text.charCodeAt(i)]!);
      if (state < 0) break;
      const a = this.dfa[state]!.accept;
      if (a >= 0) {
        rule = a;
        end = i + 1;
      }
    }
    this.lastRule = rule;
    this.lastEnd = end;
    return rule >= 0;
  }

  lastRule = -1;
  lastEnd = -1;

  /** Every end position (ascending) at which pattern 0 matches text[pos, end), end ≤ limit. */
  acceptingEnds(text: string, pos: number, limit: number): number[] {
    const ends: number[] = [];
    let state = 0;
    if (this.dfa[0]!.accept === 0) ends.push(pos);
    for (let i = pos; i < limit; i++) {
      state = this.step(state, this.classOf[text.charCodeAt(i)]!);
      if (state < 0) break;
      if (this.dfa[state]!.accept === 0) ends.push(i + 1);
    }
    return ends;
  }

  /** True when pattern 0 matches exactly text[pos, end). */
  matchesExactly(text: string, pos: number, end: number): boolean {
    let state = 0;
    for (let i = pos; i < end; i++) {
      state = this.step(state, this.classOf[text.charCodeAt(i)]!);
      if (state < 0) return false;
    }
    return this.dfa[state]!.accept === 0;
  }
}

/** A scanner over a rule list: longest match, first rule on ties, trailing context. */
export class RuleScanner<A> {
  private readonly matcher: LongestMatcher;
  private readonly heads: (LongestMatcher | null)[];
  private readonly tails: (LongestMatcher | null)[];

  constructor(readonly rules: readonly Rule<A>[]) {
    this.matcher = new LongestMatcher(
      rules.map((r) => (r.context ? seq(r.pattern, r.context) : r.pattern)),
    );
    this.heads = rules.map((r) => (r.context ? new LongestMatcher([r.pattern]) : null));
    this.tails = rules.map((r) => (r.context ? new LongestMatcher([r.context]) : null));
  }

  /**
   * The winning rule at `pos` and the end of the text it consumes (trailing context
   * excluded), or null when no rule matches.
   */
  next(text: string, pos: number): { rule: number; end: number } | null {
    if (!this.matcher.longest(text, pos)) return null;
    const rule = this.matcher.lastRule;
    const fullEnd = this.matcher.lastEnd;
    const head = this.heads[rule];
    if (!head) return { rule, end: fullEnd };
    const tail = this.tails[rule]!;
    const ends = head.acceptingEnds(text, pos, fullEnd);
    for (let i = ends.length - 1; i >= 0; i--) {
      const k = ends[i]!;
      if (tail.matchesExactly(text, k, fullEnd)) return { rule, end: k };
    }
    return { rule, end: fullEnd };
  }
}
