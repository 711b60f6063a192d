// The bookkeeping half of bench/gpu-caption.sh, in plain Node (the GPU machine has no tsx):
//   node bench/gpu-caption-summary.mjs medcap-run RESULTS RUN_DIR BATCH VARIANT RC T0 T1 NEW_TOKENS DIST
//     one `medcap caption` run -> one JSON line appended to RESULTS
//   node bench/gpu-caption-summary.mjs summary RESULTS OUT_DIR
//     RESULTS -> OUT_DIR/gpu-YYYY-MM-DD.json and a table on stdout
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const round = (x, digits = 3) =>
  x === null || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

/** The engine's MEDCAP_PROFILE=1 line (src/engines/transformers/session-timing.ts) as numbers. */
function profileOf(log) {
  const line = /profile: (.*)/.exec(log)?.[1];
  if (!line) return null;
  const out = {};
  for (const m of line.matchAll(/(\w+) (\d+) runs ([0-9.]+) s/g)) {
    out[`${m[1]}_runs`] = Number(m[2]);
    out[`${m[1]}_s`] = Number(m[3]);
  }
  if (out.decode_runs) out.decode_ms_per_step = round((out.decode_s / out.decode_runs) * 1000, 1);
  const rss = /peak RSS ([0-9]+) MiB/.exec(line);
  if (rss) out.peak_rss_mib = Number(rss[1]);
  return out;
}

// Matrix-product FLOPs of one 448x448 image through Qwen2-VL-2B (bench/gpu_ceiling.py's shapes):
// the vision encoder (1,024 patches, 32 blocks of 1280 wide, MLP 5120, and the merger to 256
// tokens), the prefill (about 290 positions, 28 layers of 1536, MLP 8960, 2 KV heads of 128;
// the LM head on the last position only) and one decode step.
const PATCHES = 1024;
const VISION_FLOPS =
  32 * (2 * PATCHES * 1280 * (3 * 1280 + 1280 + 2 * 5120) + 2 * 2 * PATCHES * PATCHES * 1280) +
  2 * 256 * (5120 * 5120 + 5120 * 1536);
const LAYER_FLOPS_PER_POSITION = 28 * 2 * 1536 * (1536 + 2 * 256 + 1536 + 3 * 8960);
const HEAD_FLOPS = 2 * 1536 * 151936;
const PROMPT = 290;
const PREFILL_FLOPS = PROMPT * LAYER_FLOPS_PER_POSITION + HEAD_FLOPS;
const STEP_FLOPS = LAYER_FLOPS_PER_POSITION + HEAD_FLOPS;

/** TFLOP/s of `engine` on `graph` at the measured M nearest to m (in log scale), or null. */
function rateAt(ceiling, engine, graph, m) {
  const rows = ceiling.filter((c) => c.engine === engine && c.graph === graph && c.tflops > 0);
  if (rows.length === 0) return null;
  const nearest = rows.reduce((a, b) =>
    Math.abs(Math.log(b.m / m)) < Math.abs(Math.log(a.m / m)) ? b : a,
  );
  return nearest.tflops;
}

/** Images/s that the matrix products alone allow at batch b, at the measured rates. */
function ceilingAt(ceiling, engine, decoderGraph, batch, newTokens) {
  const vision = rateAt(ceiling, engine, 'vis', PATCHES * batch);
  const prefill = rateAt(ceiling, engine, decoderGraph, PROMPT * batch);
  const decode = rateAt(ceiling, engine, decoderGraph, batch);
  if (!vision || !prefill || !decode) return null;
  const seconds =
    VISION_FLOPS / (vision * 1e12) +
    PREFILL_FLOPS / (prefill * 1e12) +
    ((newTokens - 1) * STEP_FLOPS) / (decode * 1e12);
  return round(1 / seconds, 2);
}

async function medcapRun([results, runDir, batch, variant, rc, t0, t1, newTokens, dist]) {
  // The captions CSV as medcap itself reads it (the built app's own reader).
  const { readCaptionsCsv } = await import(join(dist, 'formats', 'captions-csv.js'));
  const csvPath = join(runDir, 'medical_captions_train.csv');
  const rows = existsSync(csvPath)
    ? (await readCaptionsCsv(csvPath)).map((r) => ({
        seconds: Number.isFinite(r.processingTimeS) ? r.processingTimeS : 0,
        caption: r.generatedCaption,
      }))
    : [];
  const log = existsSync(`${runDir}.log`) ? readFileSync(`${runDir}.log`, 'utf8') : '';
  const load = /loaded in ([0-9.]+) s/.exec(log);
  const smi = existsSync(`${runDir}.smi`)
    ? readFileSync(`${runDir}.smi`, 'utf8')
        .split('\n')
        .map(Number)
        .filter((n) => Number.isFinite(n) && n > 0)
    : [];
  // processing_time_s is each image's share of its batch's generate call: their sum is the
  // time spent in generate, without model loading and process start. The first batch also
  // pays for compiling the GPU's shaders, so the rate after it is kept too.
  const generateS = rows.reduce((n, r) => n + r.seconds, 0);
  const later = rows.slice(Number(batch));
  const laterS = later.reduce((n, r) => n + r.seconds, 0);
  const wallS = Number(t1) - Number(t0);
  const entry = {
    engine: 'medcap',
    variant,
    batch: Number(batch),
    rc: Number(rc),
    images: rows.length,
    new_tokens_max: Number(newTokens),
    wall_s: round(wallS, 2),
    load_s: load ? Number(load[1]) : null,
    generate_s: round(generateS, 2),
    img_s: rows.length > 0 && generateS > 0 ? round(rows.length / generateS) : null,
    img_s_after_first_batch: later.length > 0 && laterS > 0 ? round(later.length / laterS) : null,
    tokens_s_max:
      rows.length > 0 && generateS > 0
        ? round((rows.length * Number(newTokens)) / generateS, 1)
        : null,
    peak_gpu_mib: smi.length > 0 ? Math.max(...smi) : null,
    breakdown: profileOf(log),
    first_caption: rows[0]?.caption.slice(0, 60) ?? null,
    error: Number(rc) === 0 ? null : log.trim().split('\n').slice(-2).join(' ').slice(0, 300),
  };
  appendFileSync(results, `${JSON.stringify(entry)}\n`);
  console.log(JSON.stringify(entry));
}

function summary([results, outDir]) {
  const lines = readFileSync(results, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const setup = lines.find((l) => l.stage === 'setup') ?? {};
  const medcap = lines.filter((l) => l.engine === 'medcap');
  const torch = lines.filter((l) => l.engine === 'pytorch' && l.img_s !== undefined);
  const ceiling = lines.filter((l) => l.stage === 'ceiling' && l.tflops !== undefined);
  const newTokens = setup.new_tokens ?? 64;
  const batches = [...new Set([...medcap, ...torch].map((l) => l.batch))].sort((a, b) => a - b);
  const medcapEngine = `ort-${setup.medcap_device ?? 'webgpu'}`;
  const rate = (list, batch, variant) =>
    list.find((l) => l.batch === batch && (variant === undefined || l.variant === variant))
      ?.img_s ?? null;
  const perBatch = batches.map((batch) => {
    const last = rate(medcap, batch, 'last');
    const full = rate(medcap, batch, 'full');
    const pytorch = rate(torch, batch);
    return {
      batch,
      medcap_img_s: last,
      medcap_full_logits_img_s: full,
      pytorch_img_s: pytorch,
      ratio: last !== null && pytorch ? round(last / pytorch) : null,
      // every run at this batch, by variant (last = medcap's defaults; docs/PERFORMANCE.md)
      medcap_variants_img_s: Object.fromEntries(
        medcap.filter((l) => l.batch === batch).map((l) => [l.variant, l.img_s]),
      ),
      medcap_img_s_after_first_batch:
        medcap.find((l) => l.batch === batch && l.variant === 'last')?.img_s_after_first_batch ??
        null,
      ceiling_img_s: ceilingAt(ceiling, medcapEngine, 'dec', batch, newTokens),
      ceiling_q4_decoder_img_s: ceilingAt(ceiling, medcapEngine, 'dec_q4', batch, newTokens),
      pytorch_gemm_ceiling_img_s: ceilingAt(ceiling, 'pytorch', 'dec', batch, newTokens),
      medcap_breakdown:
        medcap.find((l) => l.batch === batch && l.variant === 'last')?.breakdown ?? null,
      medcap_peak_gpu_mib:
        medcap.find((l) => l.batch === batch && l.variant === 'last')?.peak_gpu_mib ?? null,
      pytorch_peak_gib: torch.find((l) => l.batch === batch)?.peak_gib ?? null,
    };
  });
  const date = new Date().toISOString().slice(0, 10);
  const report = {
    date,
    device: setup.device ?? null,
    medcap_device: setup.medcap_device ?? null,
    images: setup.images ?? null,
    image_px: setup.image_px ?? null,
    new_tokens: setup.new_tokens ?? null,
    // The best batch's images/s that ONNX Runtime's fp16 matrix-product rate allows (null: not measured).
    ceiling_img_s: perBatch.reduce((best, b) => Math.max(best, b.ceiling_img_s ?? 0), 0) || null,
    ceiling: ceiling,
    batches: perBatch,
    runs: [...medcap, ...torch],
  };
  const path = join(outDir, `gpu-${date}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `device: ${report.device}; ${report.images} images of ${report.image_px} px, ${report.new_tokens} new tokens`,
  );
  console.log(
    'batch | medcap img/s (last-position logits) | medcap img/s (full logits) | PyTorch img/s | ratio | ceiling img/s',
  );
  for (const b of perBatch) {
    console.log(
      `${b.batch} | ${b.medcap_img_s ?? '-'} | ${b.medcap_full_logits_img_s ?? '-'} | ${b.pytorch_img_s ?? '-'} | ${b.ratio ?? '-'} | ${b.ceiling_img_s ?? '-'}`,
    );
  }
  for (const c of ceiling)
    console.log(`ceiling ${c.engine} ${c.graph} M=${c.m}: ${c.tflops} TFLOP/s`);
  console.log(`wrote ${path}`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'medcap-run') await medcapRun(args);
else if (command === 'summary') summary(args);
else {
  console.error('usage: gpu-caption-summary.mjs medcap-run|summary ...');
  process.exit(2);
}
