import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvRecord, readCsvRecords } from './csv-records.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-csv-records-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function records(name: string, text: string): Promise<CsvRecord[]> {
  const path = join(root, name);
  await writeFile(path, text);
  const read: CsvRecord[] = [];
  for await (const record of readCsvRecords(path, { requiredColumns: ['ID', 'Caption'] }))
    read.push(record);
  return read;
}

describe("readCsvRecords and Excel's first line 'sep=X'", () => {
  it("skips 'sep=,' and gives each record the line it starts on in the file", async () => {
    const read = await records(
      'sep.csv',
      '\uFEFFsep=,\r\nID,Caption\r\nA,"two\r\nlines"\r\nB,one\r\n',
    );
    expect(read).toEqual([
      { line: 3, fields: { ID: 'A', Caption: 'two\r\nlines' } },
      { line: 5, fields: { ID: 'B', Caption: 'one' } },
    ]);
  });

  it("reports 'sep=;' as the file's separator for any reader, and a header error on its own line", async () => {
    await expect(records('semi.csv', 'sep=;\nID;Caption\nA;"a; b"\n')).rejects.toThrow(
      /semi\.csv:1: the file is ';'-separated \(its first line is Excel's 'sep=;'\), medcap reads comma-separated CSV$/,
    );
    await expect(records('twice.csv', 'sep=,\nID,Caption,ID\n')).rejects.toThrow(
      /twice\.csv:2: column 'ID' appears twice in the header$/,
    );
  });
});
