/**
 * scoreCaptions of the metrics bench pairs with a given number of resample helpers, in one
 * process: its wall time, its peak resident set (every thread's memory) and a digest of
 * every per-item value, to compare builds and helper counts on any machine (#10 §4).
 *
 *   node bench/score-helpers.mjs DIST HELPERS [PAIRS_JSONL] [RESAMPLES]
 *
 * DIST: a build's dist folder. PAIRS_JSONL: default /tmp/medcap-bench-evaluate/pairs-60000.jsonl
 * (`npx tsx bench/metrics.ts 60000 --dump FILE`). Prints one JSON line.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, helpers, pairs = '/tmp/medcap-bench-evaluate/pairs-60000.jsonl', resamples = '1000'] =
  process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(resolve(dist), path)).href);
const { scoreCaptions } = await load('metrics/score.js');
const { createMetric } = await load('metrics/registry.js');
const items = readFileSync(pairs, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line));
const metrics = await Promise.all(
  ['bleu', 'rouge', 'meteor', 'cider'].map((id) => createMetric(id)),
);
const start = performance.now();
const scored = await scoreCaptions(items, {
  metrics,
  bootstrap: Number(resamples),
  resampleHelpers: Number(helpers),
});
const wallMs = performance.now() - start;
const digest = createHash('sha256');
for (const column of scored.columns) {
  const values = scored.values[column];
  digest.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}
digest.update(JSON.stringify(scored.summary));
console.log(
  JSON.stringify({
    dist,
    helpers: Number(helpers),
    items: items.length,
    wall_ms: Math.round(wallMs),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    worker_metrics: scored.workerMetrics,
    digest: digest.digest('hex').slice(0, 16),
  }),
);
