import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptionsCsv } from './captions-csv.js';

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-captions-csv-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A file with exactly these bytes (Excel writes a BOM and CRLF line ends). */
async function file(text: string): Promise<string> {
  counter += 1;
  const path = join(root, `${counter}.csv`);
  await writeFile(path, text);
  return path;
}

/** What evaluate gets from the file: the error message, or the rows. */
async function read(path: string) {
  try {
    return { rows: await readCaptionsCsv(path, { scoring: true }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const BOM = '\uFEFF';

describe('readCaptionsCsv on files saved by Excel', () => {
  it("says a ';'- or TAB-separated file is one, though a quoted cell breaks comma parsing", async () => {
    // European Excel quotes each cell that holds the separator.
    for (const [separator, shown] of [
      [';', "';'"],
      ['\t', 'TAB'],
    ] as const) {
      const header = ['image_id', 'reference_caption', 'generated_caption'].join(separator);
      const path = await file(
        `${BOM}${header}\r\nimg1${separator}"CT chest${separator} nodule"${separator}CT of chest\r\n`,
      );
      expect(await read(path), shown).toEqual({
        error: `${path}:1: missing columns 'image_id', 'reference_caption', 'generated_caption' (the header has: ${header}); the file looks ${shown}-separated, medcap reads comma-separated CSV`,
      });
    }
    // A header that is not the expected columns split at ';' shows nothing: the quote error stays.
    const other = await file('id;caption\nimg1;"CT chest; nodule"\n');
    expect(await read(other)).toEqual({
      error: `${other}:2: unbalanced quote: a quote inside an unquoted field (quote the whole field and double the quote: "5"" nodule")`,
    });
  });

  it("reads past Excel's first line 'sep=,', line numbers staying those of the file", async () => {
    const body =
      'image_id,reference_caption,generated_caption\r\nimg1,"CT chest,\r\nnodule",CT of chest\r\n';
    const plain = await read(await file(body));
    expect(await read(await file(`${BOM}sep=,\r\n${body}`))).toEqual(plain);
    expect(plain).toMatchObject({
      rows: [{ imageId: 'img1', references: ['CT chest,\r\nnodule'] }],
    });

    const long = await file(`sep=,\r\n${body}img2,a,b,c\r\n`);
    expect(await read(long)).toEqual({
      error: `${long}:5: row has 4 cells but the header has 3 (an unquoted comma? quote the field: "a, b")`,
    });
    const missing = await file('sep=,\nimage_id,reference\n');
    expect(await read(missing)).toEqual({
      error: `${missing}:2: missing columns 'reference_caption', 'generated_caption' (the header has: image_id, reference)`,
    });
    const alone = await file('sep=,\r\n');
    expect(await read(alone)).toEqual({
      error: `${alone}: no header row after Excel's 'sep=,' line (expected a header row with image_id, reference_caption, generated_caption)`,
    });
  });

  it("names the separator of a first line 'sep=;' or 'sep=<TAB>', before a quote error", async () => {
    for (const [separator, shown, line] of [
      [';', "';'", 'sep=;'],
      ['\t', 'TAB', 'sep=<TAB>'],
    ] as const) {
      const header = ['image_id', 'reference_caption', 'generated_caption'].join(separator);
      for (const rows of ['img1;a;b\r\n', `img1${separator}"a${separator}b"${separator}c\r\n`]) {
        const path = await file(`${BOM}sep=${separator}\r\n${header}\r\n${rows}`);
        expect(await read(path), shown).toEqual({
          error: `${path}:1: the file is ${shown}-separated (its first line is Excel's '${line}'), medcap reads comma-separated CSV`,
        });
      }
    }
  });
});
