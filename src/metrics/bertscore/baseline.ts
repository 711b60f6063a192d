import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../core/errors.js';
import { checkSettingsFile } from '../../core/input-path.js';
import type { Prf } from './scoring.js';

/**
 * Baseline rescaling, as bert_score's `rescale_with_baseline` / `baseline_path`: each of P, R
 * and F1 becomes (x - b) / (1 - b), with b from the row of a baseline file for the layer in
 * use. bert_score applies it last: after the idf-weighted sentence values and after the best
 * over several references, to each of the three on its own (F1 is not recomputed from the
 * rescaled P and R). The file is bert_score's own format (rescale_baseline/{lang}/{model}.tsv,
 * comma-separated despite the name): a header `LAYER,P,R,F`, then one row per layer.
 */

export interface Baseline extends Prf {
  /** The file it came from. */
  file: string;
  layer: number;
}

/** A baseline file's rows by layer. */
export type BaselineTable = ReadonlyMap<number, Prf>;

const COLUMNS = ['LAYER', 'P', 'R', 'F'] as const;

/** Parses bert_score's baseline format; a ConfigError names the file and the line at fault. */
export function parseBaseline(text: string, file: string): BaselineTable {
  const bad = (what: string) =>
    new ConfigError(
      `--bertscore-baseline ${file}: ${what} (expected bert_score's baseline format: a header LAYER,P,R,F, then one comma-separated row per layer)`,
    );
  const lines = text
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter(({ line }) => line !== '');
  if (lines.length === 0) throw bad('the file is empty');
  const header = lines[0]!.line.split(',').map((name) => name.trim().toUpperCase());
  const at = COLUMNS.map((name) => header.indexOf(name));
  if (at.some((i) => i < 0)) throw bad(`its header is '${lines[0]!.line}'`);
  const table = new Map<number, Prf>();
  for (const { line, number } of lines.slice(1)) {
    const cells = line.split(',');
    if (cells.length !== header.length) {
      throw bad(`line ${number} has ${cells.length} fields, the header ${header.length}`);
    }
    const [layer, precision, recall, f1] = at.map((i) => {
      const cell = cells[i]!.trim();
      return cell === '' ? Number.NaN : Number(cell);
    }) as [number, number, number, number];
    if (!Number.isInteger(layer) || layer < 0) {
      throw bad(`line ${number}: LAYER '${cells[at[0]!]!.trim()}' is not a whole number >= 0`);
    }
    for (const value of [precision, recall, f1]) {
      // b = 1 would divide by 0; b > 1 would turn the order of the scores round
      if (!Number.isFinite(value) || value >= 1) {
        throw bad(`line ${number}: '${line}' needs three numbers below 1 for P, R and F`);
      }
    }
    if (table.has(layer)) throw bad(`line ${number}: a second row for layer ${layer}`);
    table.set(layer, { precision, recall, f1 });
  }
  if (table.size === 0) throw bad('it has a header but no rows');
  return table;
}

/** Reads and checks a baseline file (before the encoder loads, so a bad file fails fast). */
export async function readBaselineFile(file: string): Promise<BaselineTable> {
  await checkSettingsFile('--bertscore-baseline', file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `--bertscore-baseline ${file}: cannot read it: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseBaseline(text, file);
}

/**
 * The baseline for `layer`. bert_score takes the row at position num_layers, which in its own
 * files is the row whose LAYER is num_layers; this takes the row by its LAYER value. The values
 * are rounded to float32, as bert_score reads them (`.float()`).
 */
export function baselineFor(table: BaselineTable, layer: number, file: string): Baseline {
  const row = table.get(layer);
  if (row === undefined) {
    const layers = [...table.keys()].sort((a, b) => a - b);
    throw new ConfigError(
      `--bertscore-baseline ${file} has no row for layer ${layer}, the layer in use ` +
        `(it has layers ${layers.join(', ')}); give the baseline made for this model and layer`,
    );
  }
  return {
    file,
    layer,
    precision: Math.fround(row.precision),
    recall: Math.fround(row.recall),
    f1: Math.fround(row.f1),
  };
}

/** (x - b) / (1 - b) for each of P, R and F1. */
export function rescale(value: Prf, baseline: Prf): Prf {
  return {
    precision: (value.precision - baseline.precision) / (1 - baseline.precision),
    recall: (value.recall - baseline.recall) / (1 - baseline.recall),
    f1: (value.f1 - baseline.f1) / (1 - baseline.f1),
  };
}
