import { parseSize } from './size.js';

/** The outcome of checking one value (the shape zod's safeParse gives, which this replaced). */
export type ParseResult =
  | { success: true; data: unknown }
  | { success: false; data?: undefined; error: { issues: { message: string }[] } };

/**
 * The validator of an option's values. Hand-written rather than zod, whose 95 modules
 * were a sixth of the start-up of every command.
 */
export interface ValueSchema {
  safeParse(value: unknown): ParseResult;
}

/** What a check returns to refuse a value. */
class Refusal {
  constructor(readonly message: string) {}
}

function fail(message: string): Refusal {
  return new Refusal(message);
}

/** A ValueSchema from a function that returns the parsed value or fail(reason). */
function check(parse: (value: unknown) => unknown): ValueSchema {
  return {
    safeParse(value) {
      const data = parse(value);
      return data instanceof Refusal
        ? { success: false, error: { issues: [{ message: data.message }] } }
        : { success: true, data };
    },
  };
}

/**
 * The kinds of value an option takes. Each kind gives the option its validator and the
 * "allowed" text shown in help and in errors, so the two cannot disagree; the fault suite
 * generates bad values from the same descriptions.
 *
 * Flags and environment variables arrive as text, the config file as JSON: every kind takes
 * both, and refuses what the other would quietly coerce (`true`, `null` and `""` are not 0).
 */
export type ValueType =
  | {
      kind: 'integer';
      min: number;
      max?: number;
      /** Words taken instead of a number, and the value each stands for (`auto`, `all`). */
      words?: Readonly<Record<string, unknown>>;
      /** What 0 stands for, when it means something else (`--limit 0`: every item). */
      zero?: unknown;
    }
  | { kind: 'number' /** exclusive */; above: number; max: number; unit?: string }
  | { kind: 'choice'; values: readonly string[] }
  | { kind: 'choices'; values: readonly string[] }
  | { kind: 'boolean' }
  | { kind: 'size' /** 0 is refused (a limit of nothing) */; positive?: boolean }
  | { kind: 'text'; pattern?: RegExp; like?: string }
  | { kind: 'urls' }
  | { kind: 'shard' }
  | { kind: 'window' }
  | { kind: 'dtype'; values: readonly string[] };

const TRUE_WORDS = Object.freeze(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = Object.freeze(['0', 'false', 'no', 'off']);

/** What an option of this kind accepts, in words. */
export function allowedText(type: ValueType): string {
  switch (type.kind) {
    case 'integer': {
      const range =
        type.max === undefined
          ? `a whole number >= ${type.min}`
          : `a whole number ${type.min}..${type.max}`;
      const words = Object.keys(type.words ?? {});
      return words.length > 0 ? `${range}, or ${words.join(' or ')}` : range;
    }
    case 'number':
      return `a number > ${type.above} and <= ${type.max}${type.unit ? ` (${type.unit})` : ''}`;
    case 'choice':
      return type.values.join(', ');
    case 'choices':
      return `a comma-separated list of ${type.values.join(', ')}`;
    case 'boolean':
      return `true or false (also ${[...TRUE_WORDS, ...FALSE_WORDS].filter((w) => w !== 'true' && w !== 'false').join(', ')})`;
    case 'size':
      return `a size such as 9GB, 512MB or 1.5GiB${type.positive ? '' : ', or 0'} (a bare number is bytes, at least 1024)`;
    case 'text':
      return type.like ?? 'a non-empty text';
    case 'urls':
      return 'http:// or https:// URLs';
    case 'shard':
      return 'I/N with 0 <= I < N (e.g. 0/4)';
    case 'window':
      return 'CENTER,WIDTH with WIDTH > 0 (e.g. 40,400)';
    case 'dtype':
      return `${type.values.join(', ')}; or GRAPH=PRECISION,…`;
  }
}

/** Text as given (flags, environment), or a JSON string or number from the config file. */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function integer(type: Extract<ValueType, { kind: 'integer' }>) {
  return check((value) => {
    const text = scalarText(value);
    if (text === undefined) return fail('not a whole number');
    const word = text.toLowerCase();
    if (type.words && Object.hasOwn(type.words, word)) return type.words[word];
    if (!/^\+?\d+$/.test(text)) return fail('not a whole number');
    const n = Number(text);
    if (!Number.isSafeInteger(n)) return fail('too large');
    if (n < type.min) return fail(`must be at least ${type.min}`);
    if (type.max !== undefined && n > type.max) return fail(`must be at most ${type.max}`);
    return n === 0 && type.zero !== undefined ? type.zero : n;
  });
}

function number(type: Extract<ValueType, { kind: 'number' }>) {
  return check((value) => {
    const text = scalarText(value);
    if (text === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text))
      return fail('not a number');
    const n = Number(text);
    if (!(n > type.above)) return fail(`must be more than ${type.above}`);
    if (n > type.max) return fail(`must be at most ${type.max}`);
    return n;
  });
}

function boolean() {
  return check((value) => {
    if (typeof value === 'boolean') return value;
    const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    if (text !== undefined && TRUE_WORDS.includes(text)) return true;
    if (text !== undefined && FALSE_WORDS.includes(text)) return false;
    return fail('not true or false');
  });
}

function choice(values: readonly string[]) {
  return check((value) => {
    if (typeof value === 'string' && values.includes(value.trim())) return value.trim();
    return fail('not one of the allowed values');
  });
}

/** A JSON array of strings, or one string of comma-separated items. */
function textList(value: unknown): string[] | undefined {
  if (Array.isArray(value))
    return value.every((v) => typeof v === 'string') ? value.map((v) => v.trim()) : undefined;
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return undefined;
}

function choices(values: readonly string[]) {
  return check((value) => {
    const items = textList(value);
    if (items === undefined) return fail('not a list');
    if (items.length === 0) return fail('empty list');
    const unknown = items.filter((item) => !values.includes(item));
    if (unknown.length > 0) return fail(`unknown ${unknown.map((u) => `'${u}'`).join(', ')}`);
    return [...new Set(items)];
  });
}

/** Below this a size is a forgotten unit (`cacheMemory: 9` meant 9GB), not a budget. */
const SMALLEST_SIZE = 1024;

function size(type: Extract<ValueType, { kind: 'size' }>) {
  return check((value) => {
    const bytes =
      typeof value === 'string' || typeof value === 'number' ? parseSize(value) : undefined;
    if (bytes === undefined) return fail('not a size');
    if (bytes === 0 && type.positive) return fail('must be more than 0 (leave it unset for none)');
    if (bytes > 0 && bytes < SMALLEST_SIZE)
      return fail(`${bytes} bytes is too small: write the unit, as in ${bytes}GB`);
    return bytes;
  });
}

function text(type: Extract<ValueType, { kind: 'text' }>) {
  return check((value) => {
    if (typeof value !== 'string') return fail('not a text');
    if (value.trim() === '') return fail('empty');
    if (type.pattern && !type.pattern.test(value)) return fail('not allowed here');
    return value;
  });
}

function urls() {
  return check((value) => {
    const items = textList(value);
    if (items === undefined) return fail('not a list of URLs');
    for (const item of items) {
      let url: URL | undefined;
      try {
        url = new URL(item);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
        return fail(`'${item}' is not an http(s) URL`);
    }
    return items;
  });
}

function shard() {
  return check((value) => {
    const match = typeof value === 'string' ? /^(\d+)\/(\d+)$/.exec(value.trim()) : null;
    const index = match ? Number(match[1]) : Number.NaN;
    const count = match ? Number(match[2]) : Number.NaN;
    if (!match) return fail('not I/N');
    if (count < 1) return fail('N must be at least 1');
    if (index >= count) return fail('I must be below N (shards count from 0)');
    return { index, count };
  });
}

function windowSpec() {
  return check((value) => {
    const parts = typeof value === 'string' ? value.split(',').map((p) => p.trim()) : [];
    const numbers = parts.map((p) => (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(p) ? Number(p) : Number.NaN));
    if (numbers.length !== 2 || numbers.some((n) => !Number.isFinite(n)))
      return fail('not CENTER,WIDTH');
    if (numbers[1]! <= 0) return fail('WIDTH must be more than 0');
    return [numbers[0]!, numbers[1]!] as [number, number];
  });
}

/**
 * `q4f16` or `vision=fp16,decoder=q4f16`: the precisions are checked here, the graph names
 * where the embedded engine resolves them.
 */
function dtype(values: readonly string[]) {
  return check((value) => {
    if (typeof value !== 'string' || value.trim() === '') return fail('not a precision');
    for (const part of value.trim().split(',')) {
      const precision = part.includes('=') ? part.slice(part.indexOf('=') + 1).trim() : part.trim();
      if (!values.includes(precision)) return fail(`unknown precision '${precision}'`);
    }
    return value.trim();
  });
}

/** The validator for a kind of value: takes flag/env text or config-file JSON. */
export function valueSchema(type: ValueType): ValueSchema {
  switch (type.kind) {
    case 'integer':
      return integer(type);
    case 'number':
      return number(type);
    case 'choice':
      return choice(type.values);
    case 'choices':
      return choices(type.values);
    case 'boolean':
      return boolean();
    case 'size':
      return size(type);
    case 'text':
      return text(type);
    case 'urls':
      return urls();
    case 'shard':
      return shard();
    case 'window':
      return windowSpec();
    case 'dtype':
      return dtype(type.values);
  }
}
