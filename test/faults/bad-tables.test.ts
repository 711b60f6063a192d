/**
 * Bad tables (issue #11 §3): every dataset index and evaluate's input, broken the ways real
 * tables break. Each case ends in a clear error naming the file and line (exit 2, before any
 * image is captioned), or in error rows naming the line (exit 3), or in a documented
 * warning: never in a row silently dropped or cut short.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptionRow, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { hfShard } from '../fixtures/parquet/write.js';
import { jpeg } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';
import { runMain } from '../support/main-in-process.js';

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-bad-tables-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh folder for one case. */
async function folder(name: string): Promise<string> {
  counter += 1;
  const dir = join(root, `${counter}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  const { code, err } = await runMain(argv, { engine: new FakeEngine(), env: {} });
  return { code, err };
}

/** Captions `--data` into `<data>-out`; returns the exit code, stderr and the rows written. */
async function captionRun(data: string, extra: string[] = []) {
  const out = `${data}-out`;
  const result = await cli(['caption', '--data', data, '--out', out, ...extra]);
  const csv = join(out, 'medical_captions_train.csv');
  const rows: CaptionRow[] = existsSync(csv) ? await readCaptionsCsv(csv) : [];
  return { ...result, rows, out };
}

async function images(dir: string, ids: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [i, id] of ids.entries())
    await writeFile(join(dir, `${id}.jpg`), await jpeg(32, 32, i + 1));
}

const latin1 = (text: string) => Buffer.from(text, 'latin1');
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

/** A ROCOv2 folder whose captions file has exactly these bytes; images for `ids`. */
async function rocov2(name: string, captions: string | Buffer, ids: readonly string[]) {
  const dir = await folder(name);
  await images(join(dir, 'train'), ids);
  await writeFile(join(dir, 'train_captions.csv'), captions);
  return dir;
}

function statusById(rows: readonly CaptionRow[]): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [r.imageId, r.status]));
}

describe('rocov2 captions CSV', () => {
  const ids = ['A', 'B', 'C'];

  it('unbalanced quote: exit 2 naming the line, nothing captioned', async () => {
    for (const [kind, body] of [
      ['never closed', 'ID,Caption\nA,fine\nB,"CT of the chest\nC,axial\n'],
      ['quote not doubled', 'ID,Caption\nA,fine\nB,"CT with a 5" nodule"\nC,axial\n'],
      ['quote in an unquoted cell', 'ID,Caption\nA,fine\nB,CT with a 5" nodule\nC,axial\n'],
    ]) {
      const data = await rocov2(`quote-${kind}`, body!, ids);
      const run = await captionRun(data);
      expect(run.code, kind).toBe(2);
      expect(run.err, kind).toMatch(/train_captions\.csv:3: unbalanced quote/);
      expect(run.rows, kind).toEqual([]);
    }
  });

  it('wrong delimiter (; or TAB): exit 2 naming the header line and the delimiter it saw', async () => {
    for (const [delimiter, shown] of [
      [';', "';'"],
      ['\t', 'TAB'],
    ]) {
      const data = await rocov2('delimiter', `ID${delimiter}Caption\nA${delimiter}fine\n`, ids);
      const run = await captionRun(data);
      expect(run.code).toBe(2);
      expect(run.err).toContain(
        `train_captions.csv:1: missing columns 'ID', 'Caption' (the header has: ID${delimiter}Caption); the file looks ${shown}-separated`,
      );
    }
  });

  it('missing column: exit 2 naming it and the header found', async () => {
    const data = await rocov2('missing-column', 'ID\nA\nB\n', ids);
    const run = await captionRun(data);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /train_captions\.csv:1: missing column 'Caption' \(the header has: ID\)/,
    );
  });

  it('a row with a cell too many or too few: that row is an error row, the rest run (exit 3)', async () => {
    const data = await rocov2('cells', 'ID,Caption\nA,CT of the chest, axial\nB\nC,fine\n', ids);
    const run = await captionRun(data);
    expect(run.code).toBe(3);
    expect(statusById(run.rows)).toEqual({ A: 'error', B: 'error', C: 'ok' });
    expect(run.rows[0]!.error).toMatch(
      /train_captions\.csv:2: row has 3 cells but the header has 2 \(an unquoted comma\?/,
    );
    expect(run.rows[1]!.error).toMatch(
      /train_captions\.csv:3: row has 1 cell but the header has 2/,
    );
  });

  it('duplicate ID: the later row is an error row naming the first (exit 3)', async () => {
    const data = await rocov2('duplicates', 'ID,Caption\nA,one\nB,two\nA,three\nC,four\n', ids);
    const run = await captionRun(data);
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => [r.imageId, r.status])).toEqual([
      ['A', 'ok'],
      ['B', 'ok'],
      ['A', 'error'],
      ['C', 'ok'],
    ]);
    expect(run.rows[2]!.error).toMatch(
      /train_captions\.csv:4: duplicate ID 'A' \(first at .*train_captions\.csv:2\)/,
    );
  });

  it('empty caption: captioned, the row carries a warning (exit 0)', async () => {
    const data = await rocov2('empty-caption', 'ID,Caption\nA,one\nB,\nC,""\n', ids);
    const run = await captionRun(data);
    expect(run.code).toBe(0);
    expect(statusById(run.rows)).toEqual({ A: 'ok', B: 'ok', C: 'ok' });
    expect(run.rows[1]!.error).toMatch(/train_captions\.csv:3: no reference caption for 'B'/);
    expect(run.rows[2]!.error).toMatch(/train_captions\.csv:4: no reference caption for 'C'/);
    expect(run.rows[1]!.generatedCaption).not.toBe('');
  });

  it('Latin-1 bytes: exit 2 naming the line and how to convert', async () => {
    const data = await rocov2('latin1', latin1('ID,Caption\nA,fine\nB,Lésion hépatique\n'), ids);
    const run = await captionRun(data);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /train_captions\.csv:3: not UTF-8 text \(byte 0xE9\); .*iconv -f latin1 -t utf-8/,
    );
    expect(run.rows).toEqual([]);
  });

  it('UTF-16 file: exit 2 saying so', async () => {
    const text = 'ID,Caption\nA,fine\n';
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const run = await captionRun(await rocov2('utf16', utf16, ids));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /train_captions\.csv:1: not UTF-8 text \(byte 0xFF\); the file is UTF-16/,
    );
  });

  it('a 10 MB caption: that row is an error row without the caption, the rest run (exit 3)', async () => {
    const data = await rocov2('huge', `ID,Caption\nA,one\nB,"${TEN_MB}"\nC,three\n`, ids);
    const run = await captionRun(data);
    expect(run.code).toBe(3);
    expect(statusById(run.rows)).toEqual({ A: 'ok', B: 'error', C: 'ok' });
    expect(run.rows[1]!.error).toMatch(
      /train_captions\.csv:3: reference caption of 10,485,760 characters \(the limit is 100,000\)/,
    );
    expect(run.rows[1]!.references).toEqual([]);
    expect(run.rows[2]!.references).toEqual(['three']);
  });

  it('a caption with quotes, commas and newlines, quoted right, is read whole', async () => {
    const data = await rocov2(
      'quoted',
      'ID,Caption\nA,"CT, axial: a 5"" nodule\r\nsecond line"\nB,two\n',
      ids,
    );
    const run = await captionRun(data);
    expect(run.code).toBe(0);
    expect(run.rows[0]!.references).toEqual(['CT, axial: a 5" nodule\r\nsecond line']);
  });
});

describe('rocov2 concepts CSV', () => {
  const ids = ['A', 'B'];
  const captions = 'ID,Caption\nA,one\nB,two\n';

  it.each([
    [
      'duplicate ID',
      'ID,CUIs\nA,C01\nB,C02\nA,C03\n',
      /train_concepts\.csv:4: duplicate ID 'A' \(first at line 2\)/,
    ],
    [
      'CUIs split by commas',
      'ID,CUIs\nA,C01,C02\n',
      /train_concepts\.csv:2: row has 3 cells but the header has 2/,
    ],
    [
      'wrong delimiter',
      'ID;CUIs\nA;C01\n',
      /train_concepts\.csv:1: missing columns 'ID', 'CUIs'.*';'-separated/,
    ],
    ['unbalanced quote', 'ID,CUIs\nA,"C01\nB,C02\n', /train_concepts\.csv:2: unbalanced quote/],
    ['Latin-1', latin1('ID,CUIs\nA,C01 é\n'), /train_concepts\.csv:2: not UTF-8 text/],
  ])('%s: exit 2 naming file and line, nothing captioned', async (_name, body, message) => {
    const data = await rocov2('concepts', captions, ids);
    await writeFile(join(data, 'train_concepts.csv'), body);
    const run = await captionRun(data);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.rows).toEqual([]);
  });
});

describe('roco captions.txt', () => {
  async function roco(name: string, body: string | Buffer, ids: readonly string[]) {
    const dir = await folder(name);
    await images(join(dir, 'train', 'radiology', 'images'), ids);
    await writeFile(join(dir, 'train', 'radiology', 'captions.txt'), body);
    return dir;
  }
  const ids = ['ROCO_1', 'ROCO_2', 'ROCO_3'];

  it('wrong delimiter: exit 2 naming line 1 and the delimiter it saw', async () => {
    const run = await captionRun(await roco('comma', 'ROCO_1,one\nROCO_2,two\n', ids));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /captions\.txt:1: expected ID<TAB>caption, found no TAB \(the file looks ','-separated\)/,
    );
  });

  it('a later line with no TAB, an empty ID or a repeated ID: error rows naming the line (exit 3)', async () => {
    const body = 'ROCO_1\tone\nROCO_2 two\n\tnameless\nROCO_1\tagain\nROCO_3\tthree\n';
    const run = await captionRun(await roco('rows', body, ids));
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => r.status)).toEqual(['ok', 'error', 'error', 'error', 'ok']);
    expect(run.rows[1]!.error).toMatch(/captions\.txt:2: expected ID<TAB>caption, found no TAB/);
    expect(run.rows[2]!.error).toMatch(/captions\.txt:3: empty ID/);
    expect(run.rows[3]!.error).toMatch(/captions\.txt:4: duplicate ID 'ROCO_1' \(first at .*:1\)/);
  });

  it('quotes are text in captions.txt: an odd quote is kept as written', async () => {
    const run = await captionRun(await roco('quote', 'ROCO_1\tA 5" nodule\nROCO_2\ttwo\n', ids));
    expect(run.code).toBe(0);
    expect(run.rows[0]!.references).toEqual(['A 5" nodule']);
  });

  it('empty caption: a warning on the row (exit 0)', async () => {
    const run = await captionRun(await roco('empty', 'ROCO_1\t\nROCO_2\ttwo\n', ids));
    expect(run.code).toBe(0);
    expect(run.rows[0]!.error).toMatch(/captions\.txt:1: no reference caption for 'ROCO_1'/);
  });

  it('Latin-1 bytes: exit 2 naming the line', async () => {
    const run = await captionRun(
      await roco('latin1', latin1('ROCO_1\tone\nROCO_2\tLésion\n'), ids),
    );
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/captions\.txt:2: not UTF-8 text \(byte 0xE9\)/);
    expect(run.rows).toEqual([]);
  });

  it('a 10 MB caption: an error row (exit 3)', async () => {
    const run = await captionRun(await roco('huge', `ROCO_1\tone\nROCO_2\t${TEN_MB}\n`, ids));
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => r.status)).toEqual(['ok', 'error']);
    expect(run.rows[1]!.error).toMatch(
      /captions\.txt:2: reference caption of 10,485,760 characters/,
    );
  });
});

describe('manifest CSV', () => {
  async function manifest(name: string, body: string | Buffer) {
    const dir = await folder(name);
    await images(join(dir, 'img'), ['a', 'b', 'c']);
    const path = join(dir, 'manifest.csv');
    await writeFile(path, body);
    return path;
  }

  it.each([
    [
      'unbalanced quote',
      'image,caption\nimg/a.jpg,"one\nimg/b.jpg,two\n',
      /manifest\.csv:2: unbalanced quote/,
    ],
    [
      '; delimiter',
      'image;caption\nimg/a.jpg;one\n',
      /manifest\.csv:1: missing column 'image'.*';'-separated/,
    ],
    [
      'TAB delimiter',
      'image\tcaption\nimg/a.jpg\tone\n',
      /manifest\.csv:1: missing column 'image'.*TAB-separated/,
    ],
    [
      'no image column',
      'path,caption\nimg/a.jpg,one\n',
      /manifest\.csv:1: missing column 'image' \(the header has: path, caption\)/,
    ],
    [
      'a column twice',
      'image,caption,caption\nimg/a.jpg,one,two\n',
      /manifest\.csv:1: column 'caption' appears twice/,
    ],
    [
      'Latin-1',
      latin1('image,caption\nimg/a.jpg,one\nimg/b.jpg,Lésion\n'),
      /manifest\.csv:3: not UTF-8 text/,
    ],
    ['empty file', '', /manifest\.csv: empty file \(expected a header row with image\)/],
    [
      'columns in another case',
      'image,ID,Caption\nimg/a.jpg,A,one\n',
      /manifest\.csv:1: column 'ID' must be spelled 'id'/,
    ],
    [
      'an ImageFolder metadata file',
      'file_name,text\nimg/a.jpg,one\n',
      /manifest\.csv:1: missing column 'image' .*rename 'file_name' to 'image' and 'text' to 'caption'/,
    ],
  ])('%s: exit 2 naming file and line', async (_name, body, message) => {
    const run = await captionRun(await manifest('file', body), ['--format', 'manifest']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.rows).toEqual([]);
  });

  it('cells too many or too few, duplicate ids, a 10 MB caption: error rows; an empty caption: a warning', async () => {
    const body = [
      'image,id,caption',
      'img/a.jpg,a,CT, axial',
      'img/b.jpg,b',
      'img/a.jpg,a,again',
      `img/c.jpg,c,${TEN_MB}`,
      'img/b.jpg,b2,',
      'img/c.jpg,c2,fine',
    ].join('\n');
    const run = await captionRun(await manifest('rows', body));
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => [r.imageId, r.status])).toEqual([
      ['a', 'error'],
      ['b', 'error'],
      ['a', 'error'],
      ['c', 'error'],
      ['b2', 'ok'],
      ['c2', 'ok'],
    ]);
    const errors = run.rows.map((r) => r.error);
    expect(errors[0]).toMatch(/manifest\.csv:2: row has 4 cells but the header has 3/);
    expect(errors[1]).toMatch(/manifest\.csv:3: row has 2 cells but the header has 3/);
    expect(errors[2]).toMatch(/manifest\.csv:4: duplicate id 'a' \(first at .*manifest\.csv:2\)/);
    expect(errors[3]).toMatch(/manifest\.csv:5: reference caption of 10,485,760 characters/);
    expect(errors[4]).toMatch(/manifest\.csv:6: no reference caption for 'b2'/);
  });
});

describe('manifest JSONL', () => {
  async function manifest(name: string, body: string | Buffer) {
    const dir = await folder(name);
    await images(join(dir, 'img'), ['a', 'b', 'c', 'd']);
    const path = join(dir, 'manifest.jsonl');
    await writeFile(path, body);
    return path;
  }
  const line = (value: unknown) => JSON.stringify(value);

  it('a line that is not JSON, not an object, repeated, or cut off: error rows naming the line (exit 3)', async () => {
    const body = [
      line({ image: 'img/a.jpg', caption: 'one' }),
      '{"image": "img/b.jpg", "caption": "two"',
      '["img/c.jpg", "three"]',
      line({ image: 'img/a.jpg', caption: 'again' }),
      line({ image: 'img/c.jpg', caption: TEN_MB }),
      line({ image: 'img/d.jpg', caption: '' }),
      '{"image": "img/b.jpg", "capt',
    ].join('\n');
    const run = await captionRun(await manifest('rows', body));
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => r.status)).toEqual([
      'ok',
      'error',
      'error',
      'error',
      'error',
      'ok',
      'error',
    ]);
    const errors = run.rows.map((r) => r.error);
    expect(errors[1]).toMatch(/manifest\.jsonl:2: not valid JSON/);
    expect(errors[2]).toMatch(/manifest\.jsonl:3: expected a JSON object/);
    expect(errors[3]).toMatch(
      /manifest\.jsonl:4: duplicate id 'a' \(first at .*manifest\.jsonl:1\)/,
    );
    expect(errors[4]).toMatch(/manifest\.jsonl:5: reference caption of 10,485,760 characters/);
    expect(errors[5]).toMatch(/manifest\.jsonl:6: no reference caption for 'd'/);
    expect(errors[6]).toMatch(/manifest\.jsonl:7: not valid JSON/);
  });

  it('Latin-1 bytes: exit 2 naming the line', async () => {
    const body = latin1(
      `${line({ image: 'img/a.jpg' })}\n{"image": "img/b.jpg", "caption": "é"}\n`,
    );
    const run = await captionRun(await manifest('latin1', body));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/manifest\.jsonl:2: not UTF-8 text \(byte 0xE9\)/);
    expect(run.rows).toEqual([]);
  });
});

describe('parquet', () => {
  async function shardFile(name: string, rows: Parameters<typeof hfShard>[0]) {
    const dir = await folder(name);
    const path = join(dir, 'train-00000-of-00001.parquet');
    await writeFile(path, hfShard(rows));
    return { dir, path };
  }
  const image = () => jpeg(32, 32, 3);

  it('a truncated file: exit 2 naming it, nothing captioned', async () => {
    const rows = [
      { id: 'a', caption: 'one', image: await image() },
      { id: 'b', caption: 'two', image: await image() },
    ];
    const { dir, path } = await shardFile('truncated', rows);
    const bytes = hfShard(rows);
    for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 3]) {
      await writeFile(path, bytes.subarray(0, keep));
      const run = await captionRun(dir);
      expect(run.code, `kept ${keep} bytes`).toBe(2);
      expect(run.err).toMatch(/train-00000-of-00001\.parquet: not a readable parquet file/);
      expect(run.rows).toEqual([]);
    }
  });

  it('a corrupt caption page (footer intact): exit 2 naming the rows it could not read', async () => {
    const rows = [];
    for (let i = 0; i < 4; i++)
      rows.push({ id: `id${i}`, caption: `caption number ${i} `.repeat(10), image: await image() });
    const bytes = Buffer.from(hfShard(rows, { codec: 'UNCOMPRESSED' }));
    const at = bytes.indexOf('caption number 2');
    expect(at).toBeGreaterThan(0);
    bytes.fill(0xff, at - 20, at + 20);
    const dir = await folder('corrupt-page');
    await writeFile(join(dir, 'train.parquet'), bytes);
    const run = await captionRun(dir);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/train\.parquet: cannot read rows 0-3 \(/);
    expect(run.rows).toEqual([]);
  });

  it('duplicate ids and a 10 MB caption: error rows naming the row; an empty caption: a warning', async () => {
    const { dir } = await shardFile('rows', [
      { id: 'a', caption: 'one', image: await image() },
      { id: 'a', caption: 'again', image: await image() },
      { id: 'b', caption: TEN_MB, image: await image() },
      { id: 'c', caption: '', image: await image() },
    ]);
    const run = await captionRun(dir);
    expect(run.code).toBe(3);
    expect(run.rows.map((r) => r.status)).toEqual(['ok', 'error', 'error', 'ok']);
    expect(run.rows[1]!.error).toMatch(/\.parquet#1: duplicate id 'a' \(first at .*\.parquet#0\)/);
    expect(run.rows[2]!.error).toMatch(/\.parquet#2: reference caption of 10,485,760 characters/);
    expect(run.rows[3]!.error).toMatch(/\.parquet#3: no reference caption for 'c'/);
  });
});

describe("evaluate's captions file", () => {
  const HEADER = 'image_id,reference_caption,generated_caption,status,error';

  async function evaluateFile(name: string, file: string, body: string | Buffer) {
    const dir = await folder(name);
    const path = join(dir, file);
    await writeFile(path, body);
    const out = join(dir, 'out');
    const run = await cli([
      'evaluate',
      '--captions',
      path,
      '--out',
      out,
      '--metrics',
      'bleu,rouge',
      '--bootstrap',
      '0',
    ]);
    return { ...run, out };
  }

  it.each([
    [
      'unbalanced quote',
      `${HEADER}\nA,ref,"gen,ok,\nB,ref,gen,ok,\n`,
      /captions\.csv:2: unbalanced quote/,
    ],
    [
      '; delimiter',
      'image_id;reference_caption;generated_caption\nA;ref;gen\n',
      /captions\.csv:1: missing columns 'image_id', 'reference_caption', 'generated_caption'.*';'-separated/,
    ],
    [
      'missing column',
      'image_id,reference_caption\nA,ref\n',
      /captions\.csv:1: missing column 'generated_caption'/,
    ],
    [
      'a cell too many',
      `${HEADER}\nA,ref,gen,ok,\nB,ref,gen, with comma,ok,\n`,
      /captions\.csv:3: row has 6 cells but the header has 5/,
    ],
    [
      'a cell too few',
      `${HEADER}\nA,ref,gen,ok,\nB,ref\n`,
      /captions\.csv:3: row has 2 cells but the header has 5/,
    ],
    [
      'duplicate id',
      `${HEADER}\nA,ref,gen,ok,\nB,ref,gen,ok,\nA,ref,gen,ok,\n`,
      /captions\.csv:4: image id 'A' appears again \(first at line 2\)/,
    ],
    [
      'unknown status',
      `${HEADER}\nA,ref,gen,failed,\n`,
      /captions\.csv:2: status must be ok or error, got 'failed'/,
    ],
    [
      'Latin-1',
      latin1(`${HEADER}\nA,ref,gen,ok,\nB,Lésion,gen,ok,\n`),
      /captions\.csv:3: not UTF-8 text \(byte 0xE9\)/,
    ],
    [
      'a row with a cell too many after a quoted CRLF (editor line numbers)',
      `${HEADER}\r\nA,ref,"two\r\nlines",ok,\r\nB,ref,gen,x,ok,\r\n`,
      /captions\.csv:4: row has 6 cells but the header has 5/,
    ],
    [
      'an optional column in another case',
      'image_id,reference_caption,generated_caption,Status\nA,ref,gen,error\n',
      /captions\.csv:1: column 'Status' must be spelled 'status'/,
    ],
    [
      'no reference_caption column',
      'image_id,Reference_Caption,generated_caption\nA,ref,gen\n',
      /captions\.csv:1: missing column 'reference_caption'.*'Reference_Caption' must be spelled/,
    ],
    [
      "a dataset's ID,Caption file",
      'ID,Caption\nROCOv2_2023_train_000001,ref\n',
      /captions\.csv:1: missing columns .*dataset's captions file.*medcap caption --data/,
    ],
    [
      'an empty image id',
      `${HEADER}\nA,ref,gen,ok,\n ,ref,gen,ok,\n`,
      /captions\.csv:3: image_id is empty/,
    ],
    ['empty', '', /captions\.csv: empty file/],
    ['only a header', `${HEADER}\n`, /captions\.csv: nothing to score \(0 rows/],
    [
      'no row to score',
      `${HEADER}\nA,,gen,ok,\nB,ref,,error,boom\n`,
      /captions\.csv: nothing to score \(2 rows: 1 with status=error, 1 without a reference caption\)/,
    ],
  ])('CSV, %s: exit 2 naming file and line, no output', async (_name, body, message) => {
    const run = await evaluateFile('csv', 'captions.csv', body);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(existsSync(run.out)).toBe(false);
  });

  const jsonl = (id: string, candidate: string, references: string[]) =>
    JSON.stringify({ id, candidate, references });

  it.each([
    [
      'a line that is not JSON',
      `${jsonl('A', 'gen', ['ref'])}\n{"id": "B", "candidate": \n`,
      /captions\.jsonl:2: not valid JSON/,
    ],
    [
      'a line that is not an object',
      `${jsonl('A', 'gen', ['ref'])}\n[1, 2]\n`,
      /captions\.jsonl:2: expected an object/,
    ],
    [
      'references not a list',
      `{"id": "A", "candidate": "gen", "references": "ref"}\n`,
      /captions\.jsonl:1: "references" must be an array of strings/,
    ],
    [
      'duplicate id',
      `${jsonl('A', 'gen', ['ref'])}\n${jsonl('A', 'gen', ['ref'])}\n`,
      /captions\.jsonl:2: id 'A' appears again \(first at line 1\)/,
    ],
    [
      'Latin-1',
      latin1(`${jsonl('A', 'gen', ['ref'])}\n${jsonl('B', 'é', ['ref'])}\n`),
      /captions\.jsonl:2: not UTF-8 text \(byte 0xE9\)/,
    ],
    [
      'an empty id',
      `${jsonl('A', 'gen', ['ref'])}\r\n${jsonl(' ', 'gen', ['ref'])}\r\n`,
      /captions\.jsonl:2: "id" is empty/,
    ],
    [
      'a number id that JSON cannot carry exactly',
      '{"id": 12345678901234567890, "candidate": "gen", "references": ["ref"]}\n',
      /captions\.jsonl:1: "id" is a number that is not a whole number up to 2\^53.*write it as a string/,
    ],
    ['empty', '\n', /captions\.jsonl: nothing to score \(0 rows/],
  ])('JSONL, %s: exit 2 naming file and line, no output', async (_name, body, message) => {
    const run = await evaluateFile('jsonl', 'captions.jsonl', body);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(existsSync(run.out)).toBe(false);
  });

  async function detailed(out: string): Promise<Record<string, Record<string, string>>> {
    const { readFile } = await import('node:fs/promises');
    const [header, ...lines] = (await readFile(join(out, 'medical_train_detailed.csv'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => line.split(','));
    return Object.fromEntries(
      lines.map((cells) => [cells[0]!, Object.fromEntries(header!.map((h, i) => [h, cells[i]!]))]),
    );
  }

  it('mixed line ends (LF, CRLF, CR) are read row by row, no CR left in a cell', async () => {
    const body = `${HEADER}\r\nA,a chest x-ray,a chest x-ray,ok,\nB,a head ct,a head ct,ok,\rC,a ct,a ct,ok,\r\n`;
    const mixed = await evaluateFile('mixed', 'captions.csv', body);
    expect(mixed.code).toBe(0);
    const rows = await readCaptionsCsv(join(mixed.out, 'medical_captions_train_with_metrics.csv'));
    expect(rows.map((r) => [r.imageId, r.generatedCaption, r.error])).toEqual([
      ['A', 'a chest x-ray', ''],
      ['B', 'a head ct', ''],
      ['C', 'a ct', ''],
    ]);
  });

  it('a blank reference is none: alone, the row is not scored; beside others, it is left out', async () => {
    const run = await evaluateFile(
      'blank-references',
      'captions.jsonl',
      [
        jsonl('A', 'head ct', ['ct of the head']),
        jsonl('B', 'head ct', ['ct of the head', ' ']),
        jsonl('C', 'head ct', ['  ']),
        jsonl('D', 'chest x-ray', ['a chest x-ray']),
      ].join('\n'),
    );
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/1 rows have no reference caption/);
    expect(run.err).toMatch(/1 rows have an empty reference beside others \(the first: B\)/);
    const scores = await detailed(run.out);
    expect(Object.keys(scores)).toEqual(['A', 'B', 'D']);
    // An empty reference would be the closest length to the 2-token candidate: no brevity penalty.
    expect({ ...scores.B, image_id: 'A' }).toEqual(scores.A);
    expect(Number(scores.B!.bleu_1)).toBeLessThan(0.5);
  });

  it('a whitespace-only reference cell is no reference', async () => {
    const run = await evaluateFile(
      'blank-cell',
      'captions.csv',
      `${HEADER}\nA,a chest x-ray,a chest x-ray,ok,\nB,"  ",a head ct,ok,\n`,
    );
    expect(run.code).toBe(0);
    expect(Object.keys(await detailed(run.out))).toEqual(['A']);
  });

  it('a 10 MB reference is scored like any other', async () => {
    const body = `${HEADER}\nA,a chest x-ray,a chest x-ray,ok,\nB,"${'word '.repeat(2 * 1024 * 1024)}",a scan,ok,\n`;
    const dir = await folder('huge');
    const path = join(dir, 'captions.csv');
    await writeFile(path, body);
    const out = join(dir, 'out');
    const run = await cli([
      'evaluate',
      '--captions',
      path,
      '--out',
      out,
      '--metrics',
      'bleu',
      '--bootstrap',
      '0',
    ]);
    expect(run.code).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const aggregate = JSON.parse(await readFile(join(out, 'medical_train_aggregate.json'), 'utf8'));
    expect(aggregate.n).toBe(2);
  });

  it('an empty reference is not scored and is counted; an empty candidate scores 0', async () => {
    const body = `${HEADER}\nA,a chest x-ray,a chest x-ray,ok,\nB,,something,ok,\nC,a head ct,,ok,\n`;
    const run = await evaluateFile('empty', 'captions.csv', body);
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/1 rows have no reference caption and are not scored/);
    const rows = await readCaptionsCsv(join(run.out, 'medical_captions_train_with_metrics.csv'));
    expect(rows.map((r) => r.imageId)).toEqual(['A', 'B', 'C']);
    const { readFile } = await import('node:fs/promises');
    const aggregate = JSON.parse(
      await readFile(join(run.out, 'medical_train_aggregate.json'), 'utf8'),
    );
    expect(aggregate.n).toBe(2);
    const summary = await readFile(join(run.out, 'medical_train_summary.txt'), 'utf8');
    expect(summary).toMatch(/2 scored, 0 failed captioning, 1 without a reference/);
    expect(summary).toMatch(/Without a reference caption[\s\S]*\bB\b/);
  });
});
