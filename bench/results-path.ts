import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const RESULTS = join(import.meta.dirname, 'results');

/**
 * Where a benchmark writes today's result: bench/results/NAME-YYYY-MM-DD.json, or with -b,
 * -c, ... after the date when that file exists already, so that a committed run is never
 * overwritten by the next one.
 */
export function newResultPath(name: string, date = new Date(), dir = RESULTS): string {
  mkdirSync(dir, { recursive: true });
  const day = date.toISOString().slice(0, 10);
  for (let i = 0; i < 26; i++) {
    const suffix = i === 0 ? '' : `-${String.fromCharCode(97 + i)}`;
    const path = join(dir, `${name}-${day}${suffix}.json`);
    if (!existsSync(path)) return path;
  }
  throw new Error(`bench/results: 26 ${name} results for ${day} already; move some away`);
}
