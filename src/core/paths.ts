import { join } from 'node:path';

/** Names of the files a run writes into its output folder (SPEC §6). */
export const outputPaths = (dir: string, split: string) => ({
  captions: join(dir, `medical_captions_${split}.csv`),
  journal: join(dir, `medical_captions_${split}.journal.jsonl`),
  /** Held while a command writes this split's journal or captions CSV (core/out-lock.ts). */
  lock: join(dir, `medical_captions_${split}.lock`),
  withMetrics: join(dir, `medical_captions_${split}_with_metrics.csv`),
  detailed: join(dir, `medical_${split}_detailed.csv`),
  aggregate: join(dir, `medical_${split}_aggregate.json`),
  summary: join(dir, `medical_${split}_summary.txt`),
  report: join(dir, `medical_${split}_report.html`),
  checkpoint: (n: number) => join(dir, `checkpoint_${n}.csv`),
});

/**
 * The split a captions CSV's file name gives (`medical_captions_{split}.csv`, or evaluate's
 * `medical_captions_{split}_with_metrics.csv`), or undefined for another name.
 */
export function splitOfCaptionsFile(name: string): string | undefined {
  return /^medical_captions_(.+?)(?:_with_metrics)?\.csv$/.exec(name)?.[1];
}

/** The split the name of a file to evaluate gives: a captions CSV's, or `medical_captions_{split}.jsonl`'s. */
export function splitOfEvaluatedFile(name: string): string | undefined {
  return splitOfCaptionsFile(name) ?? /^medical_captions_(.+?)\.(?:jsonl|ndjson)$/.exec(name)?.[1];
}
