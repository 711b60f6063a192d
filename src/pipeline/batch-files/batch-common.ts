import { join } from 'node:path';
import type { CaptionConfig } from '../../config/types.js';
import type { Logger } from '../../core/logger.js';
import type { Sample } from '../../datasets/types.js';
import {
  type SelectedDataset,
  SkippedFiles,
  selectDataset,
  selectedSamples,
} from '../selection.js';

/** OpenAI Batch API limits per input file. */
export const BATCH_MAX_REQUESTS = 50_000;
/** 200 MB, counted in decimal megabytes to stay on the safe side. */
export const BATCH_MAX_BYTES = 200 * 1000 * 1000;

/** The endpoint every line of a batch file asks for. */
export const BATCH_URL = '/v1/chat/completions';

/** Engine name in the captions CSV for captions that came back from a batch job. */
export const BATCH_ENGINE_ID = 'openai-batch';

export const batchPaths = (out: string, split: string) => ({
  /** The batch file when one file holds every request. */
  single: join(out, `batch_${split}.jsonl`),
  /** The n-th file (from 1) when the requests are split over several. */
  part: (n: number) => join(out, `batch_${split}_${String(n).padStart(3, '0')}.jsonl`),
  /** What was exported and what was skipped, read back by import-batch. */
  manifest: join(out, `batch_${split}.manifest.json`),
  /** Matches every batch file of the split, for cleaning up an earlier export. */
  pattern: new RegExp(`^batch_${escapeRegExp(split)}(_\\d{3,})?\\.jsonl$`),
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface DatasetSelection extends SelectedDataset {
  /** The items a captioning run with the same options would caption, in dataset order. */
  samples: () => AsyncIterable<Sample>;
}

/**
 * The dataset items `--limit` and `--shard` select, as the captioning run selects them. The
 * layout is checked here, nothing is listed until `samples` is called: call it before --out
 * is made.
 */
export async function selectSamples(
  config: CaptionConfig,
  logger: Logger,
): Promise<DatasetSelection> {
  const { loader, source } = await selectDataset(config, logger);
  let told = false;
  return {
    loader,
    source,
    // The files left out are said after the first listing.
    samples: async function* () {
      const skipped = told ? undefined : new SkippedFiles();
      yield* selectedSamples(loader, source, config, skipped);
      skipped?.report(logger);
      told = true;
    },
  };
}

/** What export-batch records next to the batch files (`batch_{split}.manifest.json`). */
export interface BatchManifest {
  format: 'medcap-batch-export';
  version: 1;
  split: string;
  dataset: string;
  model: string;
  prompt: string;
  maxNewTokens: number;
  files: { name: string; requests: number; bytes: number }[];
  exported: number;
  /** Images that could not be prepared and so have no request. */
  skipped: { id: string; index: number; path: string; error: string }[];
  createdAt: string;
}
