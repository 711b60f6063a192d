/**
 * The coco tokenizer over the metrics bench pairs, in one process, the ways `evaluate` may
 * run it (#10 §4): `one` (one thread, as without helpers), `chunks HELPERS [warm]` (in chunks
 * of 4,096 captions with that many helper threads, warmed up on the file's first MB or not,
 * as tokenize-job.ts does), `first-chunks [WARM_BYTES]` (one thread: each of the first 8
 * chunks' time, after a warm-up on that many bytes of the file's end). Prints one JSON line.
 *
 *   node bench/tokenize-helpers.mjs DIST MODE [ARG] [warm]
 *
 * DIST: a build's dist folder. The pairs: /tmp/medcap-bench-evaluate/pairs-60000.jsonl
 * (`npx tsx bench/metrics.ts 60000 --dump FILE`).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, mode, arg, warm] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(resolve(dist), path)).href);
const { metricInput } = await load('metrics/score.js');
const { createTokenizeWork, tokenizedChunks, runTokenizeChunks, warmUpTokenizer } =
  await load('metrics/tokenize-job.js');
const { joinEncoded, encodedCaptions } = await load('metrics/token-ids.js');
const { startResampleHelpers } = await load('metrics/resample-helpers.js');

const raw = readFileSync('/tmp/medcap-bench-evaluate/pairs-60000.jsonl');
const bytes = new Uint8Array(new SharedArrayBuffer(raw.length));
bytes.set(raw);
const items = raw
  .toString('utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line));
const candidates = items.map((item) => item.candidate);
const references = items.flatMap((item) => item.references);
const ms = (from) => Math.round(performance.now() - from);
const out = { mode };

if (mode === 'one') {
  const start = performance.now();
  encodedCaptions(metricInput(items, 'coco'));
  out.total_ms = ms(start);
} else if (mode === 'chunks') {
  const helpers = startResampleHelpers(Number(arg ?? 1));
  if (warm === 'warm') helpers.warmUpTokenizer(bytes);
  // The helpers start (and warm up) as they do while `evaluate` parses the file.
  await new Promise((resolve) => setTimeout(resolve, 600));
  const start = performance.now();
  const work = createTokenizeWork(candidates, references);
  out.create_ms = ms(start);
  let fromHelpers = 0;
  const parts = await tokenizedChunks(work, (take) =>
    helpers.tokenize(work.job, (chunks) => {
      fromHelpers += chunks.length;
      take(chunks);
    }),
  );
  out.chunks_done_ms = ms(start);
  joinEncoded(
    parts,
    items.map((item) => item.references.length),
  );
  Object.assign(out, { helpers: helpers.count, warm: warm === 'warm', total_ms: ms(start) });
  Object.assign(out, { chunks: parts.length, chunks_from_helpers: fromHelpers });
  helpers.stop();
} else if (mode === 'first-chunks') {
  const warmBytes = Number(arg ?? 0);
  const work = createTokenizeWork(candidates, references);
  if (warmBytes > 0) {
    const start = performance.now();
    // The file's end: the chunks timed are its start.
    warmUpTokenizer(bytes.subarray(bytes.length - warmBytes));
    out.warm_up_ms = ms(start);
  }
  out.chunk_ms = [];
  for (let c = 0; c < 8; c++) {
    const start = performance.now();
    const claims = new Int32Array(new SharedArrayBuffer(8));
    runTokenizeChunks({ ...work.job, claims, chunks: work.job.chunks.subarray(c * 5, c * 5 + 5) });
    out.chunk_ms.push(ms(start));
  }
} else {
  throw new Error(`mode: one, chunks or first-chunks, got ${mode}`);
}
console.log(JSON.stringify(out));
