/**
 * Reads the WordNet 3.0 database files (index.*, data.*, *.exc) that METEOR's synonym
 * stage needs: by default the copy medcap ships.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricError } from '../../core/errors.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';

export type WordNetPos = 'n' | 'v' | 'a' | 'r';

/** NLTK's POS_LIST: the order in which `synsets(word)` walks the parts of speech. */
export const WORDNET_POS: readonly WordNetPos[] = ['n', 'v', 'a', 'r'];

export const POS_FILE_SUFFIX: Readonly<Record<WordNetPos, string>> = {
  n: 'noun',
  v: 'verb',
  a: 'adj',
  r: 'adv',
};

export interface WordNetFiles {
  /** index.<pos> as text (the files are ASCII). */
  index: Record<WordNetPos, string>;
  /** data.<pos> as bytes: synsets are addressed by byte offset. */
  data: Record<WordNetPos, Buffer>;
  /** <pos>.exc as text. */
  exceptions: Record<WordNetPos, string>;
  /** Where the files came from, for messages. */
  source: string;
}

/**
 * The WordNet 3.0 files shipped with medcap (assets/wordnet-3.0, Princeton's license beside
 * them). Shipped rather than taken from an npm package: the one that had them unpacked its
 * archive in an install script asking for `tar@latest`, which broke `npm install medcap` the
 * day a tar release needed a newer Node, and `overrides` do not reach the projects that
 * install medcap.
 */
export const SHIPPED_WORDNET = join(PACKAGE_ROOT, 'assets', 'wordnet-3.0');

function readRequired(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new MetricError(`meteor: cannot read WordNet file ${path}`, { cause: error });
  }
}

/**
 * `name` in `dir`, or, where it is not there, its parts `name.1`, `name.2`, ... joined: the
 * shipped data.noun (15 MB) is kept in two, as the repository takes no file over 10 MB.
 */
export function readWordNetFile(dir: string, name: string): Buffer {
  const whole = join(dir, name);
  if (existsSync(whole) || !existsSync(`${whole}.1`)) return readRequired(whole);
  const parts: Buffer[] = [];
  for (let k = 1; existsSync(`${whole}.${k}`); k++) parts.push(readRequired(`${whole}.${k}`));
  return Buffer.concat(parts);
}

/** Reads index.*, data.* and *.exc from one WordNet `dict` folder. */
export function readWordNetDirectory(dir: string): WordNetFiles {
  const index = {} as Record<WordNetPos, string>;
  const data = {} as Record<WordNetPos, Buffer>;
  const exceptions = {} as Record<WordNetPos, string>;
  for (const pos of WORDNET_POS) {
    const suffix = POS_FILE_SUFFIX[pos];
    index[pos] = readRequired(join(dir, `index.${suffix}`)).toString('latin1');
    data[pos] = readWordNetFile(dir, `data.${suffix}`);
    exceptions[pos] = readRequired(join(dir, `${suffix}.exc`)).toString('latin1');
  }
  return { index, data, exceptions, source: dir };
}

export interface WordNetSourceOptions {
  /** A WordNet 3.0 `dict` folder; default: the one medcap ships (SHIPPED_WORDNET). */
  dir?: string;
}

export function readWordNetFiles(options: WordNetSourceOptions = {}): WordNetFiles {
  return readWordNetDirectory(options.dir ?? SHIPPED_WORDNET);
}
