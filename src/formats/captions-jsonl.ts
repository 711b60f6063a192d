/**
 * The JSONL captions file that `medcap evaluate` reads, and which of its rows (or a captions
 * CSV's) are scored. A module of its own, small, so that the metric worker can parse the
 * same text as the main thread without loading the evaluation's other modules.
 */
import { DatasetError } from '../core/errors.js';
import type { CaptionRow } from './captions-csv.js';

/** Reads `{"id", "candidate", "references"}` lines; a bad or repeated line is an error naming it. */
export function parseCaptionsJsonl(text: string, path: string): CaptionRow[] {
  const rows: CaptionRow[] = [];
  const lines = new Map<string, number>();
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === '') return;
      const where = `${path}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new DatasetError(`${where}: not valid JSON (${(error as Error).message})`, {
          cause: error,
        });
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new DatasetError(`${where}: expected an object {"id", "candidate", "references"}`);
      }
      const record = value as Record<string, unknown>;
      const id = record.id;
      if (typeof id !== 'string' && typeof id !== 'number') {
        throw new DatasetError(`${where}: "id" must be a string or a number`);
      }
      const first = lines.get(String(id));
      if (first !== undefined) {
        throw new DatasetError(`${where}: id '${id}' appears again (first at line ${first})`);
      }
      lines.set(String(id), i + 1);
      const candidate = record.candidate ?? '';
      if (typeof candidate !== 'string') {
        throw new DatasetError(`${where}: "candidate" must be a string`);
      }
      const references = record.references;
      if (!Array.isArray(references) || references.some((r) => typeof r !== 'string')) {
        throw new DatasetError(`${where}: "references" must be an array of strings`);
      }
      rows.push({
        imageId: String(id),
        imagePath: '',
        references: references as string[],
        generatedCaption: candidate,
        processingTimeS: Number.NaN,
        batchSize: Number.NaN,
        engine: '',
        model: '',
        status: 'ok',
        error: '',
      });
    });
  return rows;
}

/** A row that is scored: captioned, with at least one reference. */
export function isScoredRow(row: CaptionRow): boolean {
  return row.status !== 'error' && row.references.length > 0;
}

/** A scored row as the item that the metrics score. */
export function scoredItemOf(row: CaptionRow): {
  id: string;
  candidate: string;
  references: readonly string[];
} {
  return { id: row.imageId, candidate: row.generatedCaption, references: row.references };
}
