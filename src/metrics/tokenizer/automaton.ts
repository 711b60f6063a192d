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

/** By character: its case variants. One object per character also spares Nfa.setId a key. */
const caseVariantsOf = new Map<string, Ranges>();

function caseVariants(ch: string): Ranges {
  let ranges = caseVariantsOf.get(ch);
  if (ranges === undefined) {
    const units = new Set<number>([ch.charCodeAt(0)]);
    for (const variant of [ch.toLowerCase(), ch.toUpperCase()]) {
      if (variant.length === 1) units.add(variant.charCodeAt(0));
    }
    ranges = normalizeRanges([...units].map((u) => [u, u] as [number, number]));
    caseVariantsOf.set(ch, ranges);
  }
  return ranges;
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
}

class Nfa {
  readonly states: NfaState[] = [];
  readonly sets: Ranges[] = [];
  private readonly setIds = new Map<string, number>();
  /** The same ranges object (a pattern used in many places) skips building its key. */
  private readonly setIdsByObject = new Map<Ranges, number>();
  /** Closure scratch: states seen in the closure numbered `generation`. */
  private seen = new Int32Array(0);
  private generation = 0;

  add(): number {
    this.states.push({ eps: [], set: -1, next: -1 });
    return this.states.length - 1;
  }

  setId(ranges: Ranges): number {
    let id = this.setIdsByObject.get(ranges);
    if (id !== undefined) return id;
    const key = ranges.map(([a, b]) => `${a}-${b}`).join(',');
    id = this.setIds.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push(ranges);
      this.setIds.set(key, id);
    }
    this.setIdsByObject.set(ranges, id);
    return id;
  }

  /**
   * The states reachable from `seeds` through epsilon moves that read a character or are
   * in `accepting`, ascending: the others cannot tell two DFA states apart.
   */
  closure(seeds: readonly number[], accepting: ReadonlyMap<number, number>): Int32Array {
    if (this.seen.length < this.states.length) this.seen = new Int32Array(this.states.length);
    const seen = this.seen;
    const mark = ++this.generation;
    const found: number[] = [];
    const stack = [...seeds];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen[s] === mark) continue;
      seen[s] = mark;
      const state = this.states[s]!;
      if (state.set >= 0 || accepting.has(s)) found.push(s);
      for (const e of state.eps) if (seen[e] !== mark) stack.push(e);
    }
    return Int32Array.from(found).sort();
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

/** A partition of the code units into classes that no set of an NFA tells apart. */
interface UnitClasses {
  readonly classOf: Uint16Array;
  readonly count: number;
  /** membership[set][class] is 1 when the class lies inside the set. */
  readonly membership: readonly Uint8Array[];
}

function unitCount(ranges: Ranges): number {
  let n = 0;
  for (const [lo, hi] of ranges) n += hi - lo + 1;
  return n;
}

/**
 * Partitions the code units by refinement over elementary intervals (the stretches between
 * consecutive range bounds of any set): each set splits every class into the part inside
 * it and the rest. A set and its complement split alike, so the smaller one is walked (most
 * sets are "anything but a few characters").
 */
function partitionUnits(sets: readonly Ranges[]): UnitClasses {
  const bounds = new Set<number>([0]);
  for (const ranges of sets) {
    for (const [lo, hi] of ranges) {
      bounds.add(lo);
      if (hi < MAX_UNIT) bounds.add(hi + 1);
    }
  }
  const starts = Int32Array.from(bounds).sort();
  const intervalAt = new Map<number, number>();
  for (let i = 0; i < starts.length; i++) intervalAt.set(starts[i]!, i);
  const flipped = sets.map((ranges) => unitCount(ranges) > (MAX_UNIT + 1) / 2);
  const walked = sets.map((ranges, s) => {
    const side = flipped[s] ? complementRanges(ranges) : ranges;
    const intervals: number[] = [];
    for (const [lo, hi] of side) {
      for (let e = intervalAt.get(lo)!; e < starts.length && starts[e]! <= hi; e++) {
        intervals.push(e);
      }
    }
    return intervals;
  });

  // Class ids only grow: refining by set s renames the classes it touches to fresh ids.
  let fresh = 1;
  for (const intervals of walked) fresh += intervals.length;
  const renamedTo = new Int32Array(fresh);
  const renamedBy = new Int32Array(fresh).fill(-1);
  const classOfInterval = new Int32Array(starts.length);
  fresh = 1;
  walked.forEach((intervals, s) => {
    for (const e of intervals) {
      const old = classOfInterval[e]!;
      if (renamedBy[old] !== s) {
        renamedBy[old] = s;
        renamedTo[old] = fresh++;
      }
      classOfInterval[e] = renamedTo[old]!;
    }
  });
  // Number the classes that survived densely, in order of first appearance.
  const dense = new Int32Array(fresh).fill(-1);
  let count = 0;
  const classOf = new Uint16Array(MAX_UNIT + 1);
  for (let e = 0; e < starts.length; e++) {
    const raw = classOfInterval[e]!;
    if (dense[raw] === -1) dense[raw] = count++;
    classOfInterval[e] = dense[raw]!;
    classOf.fill(dense[raw]!, starts[e]!, e + 1 < starts.length ? starts[e + 1] : MAX_UNIT + 1);
  }
  const membership = walked.map((intervals, s) => {
    const row = new Uint8Array(count).fill(flipped[s] ? 1 : 0);
    for (const e of intervals) row[classOfInterval[e]!] = flipped[s] ? 0 : 1;
    return row;
  });
  return { classOf, count, membership };
}

/** A map keyed by lists of integers, compared by content. */
class IntListMap {
  private readonly buckets = new Map<number, { key: ArrayLike<number>; value: number }[]>();

  get(key: ArrayLike<number>): number | undefined {
    const bucket = this.buckets.get(hashList(key));
    if (bucket) for (const entry of bucket) if (sameList(entry.key, key)) return entry.value;
    return undefined;
  }

  set(key: ArrayLike<number>, value: number): void {
    const hash = hashList(key);
    const bucket = this.buckets.get(hash);
    if (bucket) bucket.push({ key, value });
    else this.buckets.set(hash, [{ key, value }]);
  }
}

function hashList(list: ArrayLike<number>): number {
  let hash = 0x811c9dc5 | 0; // FNV-1a over the items
  for (let i = 0; i < list.length; i++) hash = Math.imul(hash ^ list[i]!, 0x01000193);
  return hash;
}

function sameList(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const DEAD = -1;
const NOT_BUILT = -2;

/**
 * A DFA over an NFA fragment, built state by state as the input asks for it. A state is
 * the offset of its row in one flat table: `table[state + class]` is the next state (or
 * DEAD, or NOT_BUILT) and `table[state + classCount]` the least pattern index the state
 * accepts, or -1. The start state is 0.
 */
class LazyDfa {
  table: Int32Array;
  /** Row length: one column per class, then the accept column. */
  private readonly stride: number;
  /** By state number: the (set, next) pairs of its NFA states that read a unit, flat. */
  private readonly moves: Int32Array[] = [];
  /** DFA states by their NFA state sets, and by the seeds whose closure they are. */
  private readonly bySet = new IntListMap();
  private readonly bySeeds = new IntListMap();

  /** `accepting`: the NFA states that accept, each with its pattern index. */
  constructor(
    private readonly nfa: Nfa,
    private readonly classes: UnitClasses,
    start: number,
    private readonly accepting: ReadonlyMap<number, number>,
  ) {
    this.stride = classes.count + 1;
    this.table = new Int32Array(16 * this.stride).fill(NOT_BUILT);
    this.stateFor([start]);
  }

  /** The state after `state` on a unit of class `cls` (DEAD when none). */
  next(state: number, cls: number): number {
    const next = this.table[state + cls]!;
    return next === NOT_BUILT ? this.build(state, cls) : next;
  }

  /** The least pattern index that `state` accepts, or -1. */
  accepts(state: number): number {
    return this.table[state + this.classes.count]!;
  }

  /** Whether every move from `state` is DEAD, whatever the next unit. */
  isFinal(state: number): boolean {
    return this.moves[this.numberOf(state)]!.length === 0;
  }

  /** States are numbered in order of creation. */
  private numberOf(state: number): number {
    return (state / this.stride) | 0;
  }

  /** Computes, records and returns a transition not built yet. */
  build(state: number, cls: number): number {
    const membership = this.classes.membership;
    const moves = this.moves[this.numberOf(state)]!;
    const targets: number[] = [];
    for (let i = 0; i < moves.length; i += 2) {
      if (membership[moves[i]!]![cls] === 1) targets.push(moves[i + 1]!);
    }
    const next = targets.length === 0 ? DEAD : this.stateFor(targets);
    this.table[state + cls] = next;
    return next;
  }

  private stateFor(seeds: readonly number[]): number {
    let state = this.bySeeds.get(seeds);
    if (state === undefined) {
      const set = this.nfa.closure(seeds, this.accepting);
      state = this.bySet.get(set) ?? this.add(set);
      this.bySeeds.set(seeds, state);
    }
    return state;
  }

  private add(set: Int32Array): number {
    const state = this.moves.length * this.stride;
    if (state === this.table.length) this.grow();
    let accept = -1;
    for (const s of set) {
      const a = this.accepting.get(s);
      if (a !== undefined && (accept < 0 || a < accept)) accept = a;
    }
    this.table[state + this.classes.count] = accept;
    const moves: number[] = [];
    for (const s of set) {
      const n = this.nfa.states[s]!;
      if (n.set >= 0) moves.push(n.set, n.next);
    }
    this.moves.push(Int32Array.from(moves));
    this.bySet.set(set, state);
    return state;
  }

  private grow(): void {
    const table = new Int32Array(this.table.length * 2).fill(NOT_BUILT);
    table.set(this.table);
    this.table = table;
  }
}

/**
 * A scanner over a rule list: longest match, first rule on ties, trailing context. All
 * automata (the rule race, and each context rule's pattern and context alone) share one
 * NFA and one partition of the code units.
 */
export class RuleScanner<A> {
  /** After {@link match} returned true: the winning rule. */
  rule = -1;
  /** After {@link match} returned true: the end of the text the rule consumes. */
  end = -1;
  /**
   * After {@link match}: the last index it looked at (text.length when it read to the
   * end). The result of a match depends on text[pos, lastRead] only.
   */
  lastRead = -1;
  private readonly classOf: Uint16Array;
  private readonly classCount: number;
  private readonly race: LazyDfa;
  private readonly heads: (LazyDfa | null)[];
  private readonly tails: (LazyDfa | null)[];
  /** Scratch: the ends at which a context rule's pattern matches. */
  private headEnds = new Int32Array(64);

  constructor(readonly rules: readonly Rule<A>[]) {
    // A context rule's pattern and context are fragments of its alternative in the race;
    // their own automata start at the fragment and accept at its end.
    const nfa = new Nfa();
    const raceStart = nfa.add();
    const raceAccepts = new Map<number, number>();
    const heads: [number, number][] = [];
    const tails: [number, number][] = [];
    rules.forEach((rule, index) => {
      const head = nfa.build(rule.pattern);
      nfa.states[raceStart]!.eps.push(head[0]);
      if (!rule.context) {
        raceAccepts.set(head[1], index);
        return;
      }
      const tail = nfa.build(rule.context);
      nfa.states[head[1]]!.eps.push(tail[0]);
      raceAccepts.set(tail[1], index);
      heads[index] = head;
      tails[index] = tail;
    });
    const classes = partitionUnits(nfa.sets);
    this.classOf = classes.classOf;
    this.classCount = classes.count;
    this.race = new LazyDfa(nfa, classes, raceStart, raceAccepts);
    const fragment = (part: [number, number] | undefined) =>
      part ? new LazyDfa(nfa, classes, part[0], new Map([[part[1], 0]])) : null;
    this.heads = rules.map((_, index) => fragment(heads[index]));
    this.tails = rules.map((_, index) => fragment(tails[index]));
  }

  /**
   * Finds the winning rule at `pos` (the match may run to the end of `text`): sets
   * {@link rule} and {@link end} (trailing context excluded) and returns true, or returns
   * false when no rule matches a non-empty prefix.
   */
  match(text: string, pos: number): boolean {
    const fullEnd = this.longest(text, pos);
    if (fullEnd < 0) return false;
    const head = this.heads[this.rule]!;
    this.end =
      head === null ? fullEnd : this.splitContext(head, this.tails[this.rule]!, text, pos, fullEnd);
    return true;
  }

  /** The end of the longest rule-race match at `pos` (setting {@link rule}), or -1. */
  private longest(text: string, pos: number): number {
    const race = this.race;
    const classOf = this.classOf;
    const acceptColumn = this.classCount;
    let table = race.table;
    let state = 0;
    let rule = -1;
    let end = -1;
    let i = pos;
    for (; i < text.length; i++) {
      const cls = classOf[text.charCodeAt(i)]!;
      let next = table[state + cls]!;
      if (next === NOT_BUILT) {
        next = race.build(state, cls);
        table = race.table;
      }
      if (next === DEAD) break;
      state = next;
      const accept = table[state + acceptColumn]!;
      if (accept >= 0) {
        rule = accept;
        end = i + 1;
      }
    }
    this.rule = rule;
    this.lastRead = race.isFinal(state) ? i - 1 : i;
    return end;
  }

  /** The longest split of text[pos, fullEnd) into the rule's pattern, then its context. */
  private splitContext(
    head: LazyDfa,
    tail: LazyDfa,
    text: string,
    pos: number,
    fullEnd: number,
  ): number {
    let count = 0;
    if (head.accepts(0) === 0) count = this.pushHeadEnd(count, pos);
    let state = 0;
    for (let i = pos; i < fullEnd; i++) {
      state = head.next(state, this.classOf[text.charCodeAt(i)]!);
      if (state === DEAD) break;
      if (head.accepts(state) === 0) count = this.pushHeadEnd(count, i + 1);
    }
    for (let j = count - 1; j >= 0; j--) {
      const k = this.headEnds[j]!;
      if (this.matchesExactly(tail, text, k, fullEnd)) return k;
    }
    return fullEnd;
  }

  private pushHeadEnd(count: number, end: number): number {
    if (count === this.headEnds.length) {
      const grown = new Int32Array(count * 2);
      grown.set(this.headEnds);
      this.headEnds = grown;
    }
    this.headEnds[count] = end;
    return count + 1;
  }

  private matchesExactly(dfa: LazyDfa, text: string, pos: number, end: number): boolean {
    let state = 0;
    for (let i = pos; i < end; i++) {
      state = dfa.next(state, this.classOf[text.charCodeAt(i)]!);
      if (state === DEAD) return false;
    }
    return dfa.accepts(state) === 0;
  }
}
