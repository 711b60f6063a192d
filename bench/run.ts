/**
 * `npm run bench`: runs each benchmark in turn. Add a benchmark by adding a line to
 * BENCHMARKS (each prints its own results).
 */
import { benchBootstrap } from './bootstrap.js';
import { benchCaption } from './caption.js';
import { benchCheckpoints } from './checkpoints.js';
import { benchDicom } from './dicom.js';
import { benchEvaluate } from './evaluate.js';
import { benchMeteor } from './meteor.js';
import { benchMetrics } from './metrics.js';
import { benchOpenAI } from './openai.js';
import { benchReport } from './report.js';

const BENCHMARKS: { name: string; run: () => Promise<unknown> }[] = [
  { name: 'caption (pipeline ceiling and tiny-model batching)', run: () => benchCaption() },
  {
    name: 'checkpoints (60,000 images, --checkpoint-every 100 vs none, alternating)',
    run: () => benchCheckpoints(),
  },
  {
    name: 'metrics (60,000 pairs: tokenize + BLEU + ROUGE + CIDEr-D + METEOR)',
    run: () => benchMetrics(),
  },
  {
    name: 'single-thread metrics (the same, with the worker thread off)',
    run: () => benchMetrics({ parallel: false }),
  },
  {
    name: 'evaluate (the whole CLI, default settings, 60,000 pairs; needs npm run build)',
    run: () => benchEvaluate({ save: true }),
  },
  {
    name: 'bootstrap (1,000 resamples of 60,000 items, 12 columns, one thread)',
    run: () => benchBootstrap(),
  },
  { name: 'meteor (60,000 token pairs)', run: () => benchMeteor() },
  { name: 'report (60,000 rows)', run: () => benchReport() },
  { name: 'dicom (decode time per transfer syntax, 512x512 CT)', run: () => benchDicom() },
  {
    name: 'openai client (the real CLI against a local instant server, 60,000 images)',
    run: () => benchOpenAI(),
  },
];

const only = process.argv.slice(2);
for (const bench of BENCHMARKS) {
  if (only.length > 0 && !only.some((word) => bench.name.startsWith(word))) continue;
  process.stdout.write(`\n== ${bench.name}\n`);
  await bench.run();
}
