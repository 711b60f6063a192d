import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../metrics/statistics.js';
import { type CaptionRow, captionRowToRecord } from './captions-csv.js';
import { csvLine, Utf8Buffer } from './csv-text.js';
import {
  formatCaptionsWithMetricsCsv,
  formatDetailedCsv,
  formatMetricValue,
  metricCells,
} from './metric-files.js';

/** Text with every character that decides CSV quoting, in random places. */
function awkwardText(random: () => number): string {
  const pieces = [
    'a',
    'CT',
    ' ',
    ',',
    '"',
    '\n',
    '\r',
    '\r\n',
    "'",
    ';',
    '|||',
    'é',
    '→',
    '\t',
    '',
  ];
  let text = '';
  const length = Math.floor(random() * 8);
  for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
  return text;
}

const columns = ['bleu_1', 'rouge_l', 'cider'];

function fixture(count: number) {
  const random = seededRandom(5);
  const rows: CaptionRow[] = Array.from({ length: count }, (_, i) => ({
    imageId: i % 9 === 0 ? `img,${i}"` : `img${i}`,
    imagePath: awkwardText(random),
    references:
      i % 11 === 0 ? [] : [awkwardText(random), awkwardText(random)].slice(0, 1 + (i % 2)),
    generatedCaption: awkwardText(random),
    processingTimeS: i % 5 === 0 ? Number.NaN : random(),
    batchSize: i % 7 === 0 ? Number.NaN : 8,
    engine: 'transformers',
    model: awkwardText(random),
    status: i % 13 === 0 ? 'error' : 'ok',
    error: i % 13 === 0 ? awkwardText(random) : '',
    ...(i % 3 === 0 ? { concepts: ['C1', 'C2'] } : {}),
  }));
  const scored = rows.filter((row) => row.status === 'ok' && row.references.length > 0);
  const values = Object.fromEntries(
    columns.map((c, j) => [
      c,
      Float64Array.from(scored, (_, k) =>
        (k + j) % 17 === 0 ? Number.NaN : k % 19 === 0 ? 0 : random() * 10 ** (j - 1),
      ),
    ]),
  );
  return { rows, scores: { ids: scored.map((row) => row.imageId), values } };
}

describe('per-item metric files', () => {
  it('write exactly what csv-stringify writes for the same records', () => {
    const { rows, scores } = fixture(500);
    const withConcepts = rows.some((row) => row.concepts !== undefined);
    const indexOf = new Map(scores.ids.map((id, k) => [id, k]));
    const expected = stringify([
      [
        'image_id',
        'image_path',
        'reference_caption',
        'generated_caption',
        'processing_time_s',
        'batch_size',
        'engine',
        'model',
        'status',
        'error',
        'concepts',
        ...columns,
      ],
      ...rows.map((row) => {
        const k = row.status === 'ok' ? indexOf.get(row.imageId) : undefined;
        return [
          ...captionRowToRecord(row, withConcepts),
          ...columns.map((c) =>
            formatMetricValue(k === undefined ? undefined : scores.values[c]![k]),
          ),
        ];
      }),
    ]);
    expect(formatCaptionsWithMetricsCsv(rows, columns, scores).toString('utf8')).toBe(expected);
    expect(formatDetailedCsv(columns, scores).toString('utf8')).toBe(
      stringify([
        ['image_id', ...columns],
        ...scores.ids.map((id, k) => [
          id,
          ...columns.map((c) => formatMetricValue(scores.values[c]![k])),
        ]),
      ]),
    );
  });

  it('take shared metric cells, formatting each number once', () => {
    const { rows, scores } = fixture(50);
    const cells = metricCells(columns, scores);
    expect(cells.offsets).toHaveLength(scores.ids.length + 1);
    expect(formatDetailedCsv(columns, scores, cells)).toEqual(formatDetailedCsv(columns, scores));
    expect(formatCaptionsWithMetricsCsv(rows, columns, scores, cells)).toEqual(
      formatCaptionsWithMetricsCsv(rows, columns, scores),
    );
  });

  it('grow their buffer past its first size, keeping every byte', () => {
    const out = new Utf8Buffer();
    let expected = '';
    for (let i = 0; i < 5000; i++) {
      const piece = `row ${i}, é → "x"\n`;
      if (i % 2) out.write(piece);
      else out.append(Buffer.from(piece));
      expected += piece;
    }
    expect(out.bytes().toString('utf8')).toBe(expected);
  });

  it('quote fields as csv-stringify does', () => {
    const random = seededRandom(9);
    for (let i = 0; i < 2000; i++) {
      const fields = Array.from({ length: 1 + (i % 4) }, () => awkwardText(random));
      expect(`${csvLine(fields)}\n`).toBe(stringify([fields]));
    }
  });
});
