import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ConfigError, DatasetError } from '../../core/errors.js';
import { ensureWritableDir, writeFileAtomic } from '../../core/files.js';
import { checkInputPath, inputPathError } from '../../core/input-path.js';
import { outputPaths } from '../../core/paths.js';
import { parseAggregate } from '../../formats/aggregate-json.js';
import { readCaptionsCsv } from '../../formats/captions-csv.js';
import { type RunInfo, readMetricsCsv } from '../../formats/metric-files.js';
import { compareRuns, formatComparison, type RunComparison } from '../../metrics/compare.js';
import { type ComparisonPageInput, renderComparisonPage } from '../../reports/html/compare.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

/**
 * Per-image scores from a run folder's `medical_{split}_detailed.csv`. A folder that is not
 * there, or holds no such file, is a wrong argument (exit 1).
 */
export async function readDetailedScores(
  dir: string,
  split: string,
): Promise<Map<string, Record<string, number>>> {
  await checkInputPath('run folder', dir, 'folder');
  const path = outputPaths(dir, split).detailed;
  if (!existsSync(path)) {
    throw inputPathError(
      'run folder',
      dir,
      `no ${basename(path)}: run 'medcap evaluate' (or 'medcap run') with --out ${dir} --split ${split} first`,
    );
  }
  return (await readMetricsCsv(path)).values as Map<string, Record<string, number>>;
}

/**
 * The settings that change the values, from a run folder's aggregate JSON: none if it is
 * absent, or if it cannot be read (a warning in `warnings`: the comparison itself needs
 * only the detailed CSVs).
 */
async function scoringSettings(
  dir: string,
  split: string,
  warnings: string[],
): Promise<Record<string, unknown> | undefined> {
  const path = outputPaths(dir, split).aggregate;
  if (!existsSync(path)) return undefined;
  let run: Partial<RunInfo> | undefined;
  try {
    run = parseAggregate(await readFile(path, 'utf8'), path).run as Partial<RunInfo> | undefined;
  } catch (error) {
    warnings.push(`${(error as Error).message}: its scoring settings are not compared`);
    return undefined;
  }
  const bert = run?.bertscore;
  return {
    tokenizer: run?.tokenizer,
    'rouge stemmer': run?.rougeStemmer,
    BERTScore: bert
      ? `${bert.model} layer ${bert.layer} ${bert.idf ? 'idf' : 'no idf'} ` +
        (bert.baseline ? `rescaled (baseline F ${bert.baseline.f1})` : 'raw')
      : undefined,
  };
}

/** A warning for each setting the two runs were scored with differently. */
async function settingsWarnings(dirA: string, dirB: string, split: string): Promise<string[]> {
  const warnings: string[] = [];
  const a = await scoringSettings(dirA, split, warnings);
  const b = await scoringSettings(dirB, split, warnings);
  if (a === undefined || b === undefined) return warnings;
  // A setting one run does not record (e.g. BERTScore not computed) is not compared.
  return Object.keys(a)
    .filter((name) => a[name] !== undefined && b[name] !== undefined && a[name] !== b[name])
    .map(
      (name) =>
        `A was scored with ${name} ${String(a[name])}, B with ${String(b[name])}: their values are not comparable`,
    );
}

/**
 * Images scored in one run that failed in the other (error rows of its captions CSV, or of
 * evaluate's with-metrics CSV in a folder `evaluate --out` wrote alone): the comparison leaves
 * them out, which flatters the run that failed on them.
 */
async function failedElsewhere(
  scored: Map<string, unknown>,
  other: Map<string, unknown>,
  otherDir: string,
  split: string,
  name: string,
  otherName: string,
): Promise<string[]> {
  const paths = outputPaths(otherDir, split);
  const captions = [paths.captions, paths.withMetrics].find((path) => existsSync(path));
  if (captions === undefined) return [];
  const failed = new Set(
    (await readCaptionsCsv(captions)).filter((r) => r.status === 'error').map((r) => r.imageId),
  );
  const count = [...scored.keys()].filter((id) => !other.has(id) && failed.has(id)).length;
  if (count === 0) return [];
  return [
    `${count} of the images only in ${name} failed in ${otherName} (error rows of ${captions}): ` +
      `they are left out of the comparison, which flatters ${otherName}`,
  ];
}

/** `medcap compare DIR_A DIR_B`: paired comparison, written to comparison_{split}.json/.txt. */
export async function compareCommand(
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  if (args.length !== 2)
    throw new ConfigError('compare needs two run folders: medcap compare DIR_A DIR_B');
  const split = String(config.split ?? 'train');
  const [dirA, dirB] = args.map((d) => resolve(ctx.cwd, d)) as [string, string];
  const a = await readDetailedScores(dirA, split);
  const b = await readDetailedScores(dirB, split);
  const comparison = compareRuns(a, b, {
    split,
    labelA: dirA,
    labelB: dirB,
    seed: Number(config.seed ?? 12345),
  });
  if (comparison.shared === 0) {
    throw new DatasetError(`the two runs share no image ids (${a.size} in A, ${b.size} in B)`);
  }
  comparison.warnings.push(...(await settingsWarnings(dirA, dirB, split)));
  comparison.warnings.push(
    ...(await failedElsewhere(a, b, dirB, split, 'A', 'B')),
    ...(await failedElsewhere(b, a, dirA, split, 'B', 'A')),
  );
  for (const warning of comparison.warnings) ctx.logger.warn(warning);
  const out = resolve(ctx.cwd, String(config.out ?? 'results_medical'));
  await ensureWritableDir(out, '--out');
  const text = formatComparison(comparison);
  await writeFileAtomic(
    join(out, `comparison_${split}.json`),
    `${JSON.stringify(comparison, null, 2)}\n`,
  );
  await writeFileAtomic(join(out, `comparison_${split}.txt`), text);
  await writeFileAtomic(
    join(out, `comparison_${split}.html`),
    await renderComparisonPage(comparisonPage(comparison)),
  );
  ctx.logger.info(`wrote ${join(out, `comparison_${split}`)}.json, .txt and .html`);
  ctx.writeOut(text);
  return EXIT.ok;
}

/** The metrics comparison as the HTML comparison page takes it. */
export function comparisonPage(comparison: RunComparison): ComparisonPageInput {
  const details = (run: RunComparison['runA']) => ({
    images: run.images,
    'only in this run': run.onlyHere,
  });
  return {
    a: { label: comparison.runA.label, details: details(comparison.runA) },
    b: { label: comparison.runB.label, details: details(comparison.runB) },
    split: comparison.split,
    metrics: comparison.metrics.map((m) => ({
      name: m.column,
      a: m.meanA,
      b: m.meanB,
      difference: m.difference,
      pValue: m.pValue,
      n: m.n,
    })),
    method: `paired approximate randomization, ${comparison.trials.toLocaleString('en-US')} trials, seed ${comparison.seed}`,
  };
}
