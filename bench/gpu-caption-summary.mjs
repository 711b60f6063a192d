// The bookkeeping half of bench/gpu-caption.sh, in plain Node (the GPU machine has no tsx):
//   node bench/gpu-caption-summary.mjs medcap-run RESULTS RUN_DIR BATCH VARIANT RC T0 T1 NEW_TOKENS
//     one `medcap caption` run -> one JSON line appended to RESULTS
//   node bench/gpu-caption-summary.mjs summary RESULTS OUT_DIR
//     RESULTS -> OUT_DIR/gpu-YYYY-MM-DD.json and a table on stdout
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Rows of a CSV text (RFC 4180 quoting). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const round = (x, digits = 3) =>
  x === null || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

function medcapRun([results, runDir, batch, variant, rc, t0, t1, newTokens]) {
  const csvPath = join(runDir, 'medical_captions_train.csv');
  let rows = [];
  if (existsSync(csvPath)) {
    const [header, ...body] = parseCsv(readFileSync(csvPath, 'utf8')).filter((r) => r.length > 1);
    const time = header.indexOf('processing_time_s');
    const caption = header.indexOf('generated_caption');
    rows = body.map((r) => ({ seconds: Number(r[time]), caption: r[caption] ?? '' }));
  }
  const log = existsSync(`${runDir}.log`) ? readFileSync(`${runDir}.log`, 'utf8') : '';
  const load = /loaded in ([0-9.]+) s/.exec(log);
  const smi = existsSync(`${runDir}.smi`)
    ? readFileSync(`${runDir}.smi`, 'utf8')
        .split('\n')
        .map(Number)
        .filter((n) => Number.isFinite(n) && n > 0)
    : [];
  // processing_time_s is each image's share of its batch's generate call: their sum is the
  // time spent in generate, without model loading and process start.
  const generateS = rows.reduce((n, r) => n + r.seconds, 0);
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
    tokens_s_max:
      rows.length > 0 && generateS > 0
        ? round((rows.length * Number(newTokens)) / generateS, 1)
        : null,
    peak_gpu_mib: smi.length > 0 ? Math.max(...smi) : null,
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
  const batches = [...new Set([...medcap, ...torch].map((l) => l.batch))].sort((a, b) => a - b);
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
    // No pipeline-only ceiling (a no-op engine over the same images) was measured in this run.
    ceiling_img_s: null,
    batches: perBatch,
    runs: [...medcap, ...torch],
  };
  const path = join(outDir, `gpu-${date}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `device: ${report.device}; ${report.images} images of ${report.image_px} px, ${report.new_tokens} new tokens`,
  );
  console.log(
    'batch | medcap img/s (last-position logits) | medcap img/s (full logits) | PyTorch img/s | ratio',
  );
  for (const b of perBatch) {
    console.log(
      `${b.batch} | ${b.medcap_img_s ?? '-'} | ${b.medcap_full_logits_img_s ?? '-'} | ${b.pytorch_img_s ?? '-'} | ${b.ratio ?? '-'}`,
    );
  }
  console.log(`wrote ${path}`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'medcap-run') medcapRun(args);
else if (command === 'summary') summary(args);
else {
  console.error('usage: gpu-caption-summary.mjs medcap-run|summary ...');
  process.exit(2);
}
