import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../../core/errors.js';
import { readUtf8Stream } from '../../core/utf8.js';
import { DuplicateTracker, folderIndex, isFile } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, DatasetSource } from '../types.js';

/** ROCO v1: `{split}/radiology/captions.txt` (ID<TAB>caption), images in `{split}/radiology/images/`. */
export const rocoLoader: DatasetLoader = {
  format: 'roco',

  async detect(source) {
    return isFile(captionsFile(source));
  },

  async *load(source) {
    const captions = captionsFile(source);
    if (!(await isFile(captions))) {
      throw new DatasetError(
        `roco: ${captions} not found (expected {split}/radiology/captions.txt for --split ${source.split})`,
      );
    }
    const imageDir = join(source.path, source.split, 'radiology', 'images');
    const duplicates = new DuplicateTracker();
    const exists = folderIndex(imageDir);
    const lines = createInterface({
      input: readUtf8Stream(captions),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let lineNumber = 0;
    let index = 0;
    for await (const raw of lines) {
      lineNumber += 1;
      const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      const place = `${captions}:${lineNumber}`;
      const tab = line.indexOf('\t');
      if (tab === -1 && index === 0) throw new DatasetError(noTabMessage(place, line));
      const id = (tab === -1 ? line : line.slice(0, tab)).trim();
      const caption = tab === -1 ? '' : line.slice(tab + 1).trim();
      const problems: { message: string; fatal: boolean }[] = [];
      if (tab === -1) problems.push({ message: noTabMessage(place, line), fatal: true });
      if (id === '') problems.push({ message: `${place}: empty ID`, fatal: true });
      const first = id === '' ? undefined : duplicates.check(id, place);
      if (first)
        problems.push({
          message: `${place}: duplicate ID '${id}' (first at ${first})`,
          fatal: true,
        });
      yield await finishSample(
        {
          index,
          id: id === '' ? `row-${lineNumber}` : id,
          imagePath: join(imageDir, `${id}.jpg`),
          references: [caption],
          place,
          problems,
        },
        true,
        exists,
      );
      index += 1;
    }
  },
};

/** A line with no TAB: on the first line the whole file is in another layout. */
function noTabMessage(place: string, line: string): string {
  const other = [',', ';', '|'].find((d) => line.includes(d));
  const hint = other ? ` (the file looks '${other}'-separated)` : '';
  return `${place}: expected ID<TAB>caption, found no TAB${hint}`;
}

function captionsFile(source: DatasetSource): string {
  return join(source.path, source.split, 'radiology', 'captions.txt');
}
