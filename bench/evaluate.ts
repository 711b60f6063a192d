/**
 * `medcap evaluate` end to end: the built CLI (`dist/cli/bin.js`, so `npm run build` first)
 * with its default settings (BLEU, ROUGE, METEOR, CIDEr-D, coco tokens, 1,000 bootstrap
 * resamples) on the 60,000 metrics-bench pairs, the same pairs the toolkits were timed on
 * (`npx tsx bench/metrics.ts --dump`). Wall clock from spawning Node to its exit, every
 * output file written; peak RSS of the whole process (both threads).
 *
 *   npx tsx bench/evaluate.ts [--rounds N] [--pairs N] [--dir DIR] [--save]
 *                             [--check DIR] [--keep-outputs DIR]
 *
 * The corpus files are made once in DIR (default: a folder under the temp dir): the JSONL
 * pairs that are timed, and a captions CSV of the same items with the shapes a real
 * `medcap caption` run has (failed rows, rows without a reference, several references,
 * concepts, quotes and commas), which `--check` also scores. `--keep-outputs DIR` leaves
 * each input's outputs in DIR/<input>; `--check DIR` compares them byte for byte with an
 * earlier `--keep-outputs DIR` (the way the writers were changed without changing a byte).
 * `--save` writes bench/results/evaluate-YYYY-MM-DD.json (-b, -c, ... if taken).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type CaptionRow, formatCaptionsCsv } from '../src/formats/captions-csv.js';
import { seededRandom } from '../src/metrics/statistics.js';
import { metricsBenchItems } from './metrics.js';
import { newResultPath } from './results-path.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'bin.js');
/** Preloaded into the CLI: records the process's peak RSS (both threads) as it exits. */
const RSS_PROBE = `data:text/javascript,${encodeURIComponent(
  "import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.BENCH_EVALUATE_RSS_FILE,String(process.resourceUsage().maxRSS*1024)));",
)}`;

export interface EvaluateRound {
  wallSeconds: number;
  /** The CLI's own "scored in" figure. */
  scoredSeconds: number | null;
  peakRssBytes: number;
  /** The machine's 1-minute load average as the round ended (others' work slows it). */
  loadAverage: number;
}

export interface EvaluateBenchResult {
  pairs: number;
  command: string;
  rounds: EvaluateRound[];
  node: string;
  cpus: number;
  date: string;
}

/** The bench inputs: the timed JSONL pairs and a captions CSV with a real run's shapes. */
export function writeEvaluateCorpus(dir: string, pairs: number): { jsonl: string; csv: string } {
  mkdirSync(dir, { recursive: true });
  const jsonl = join(dir, `pairs-${pairs}.jsonl`);
  const csv = join(dir, `captions-${pairs}`, 'medical_captions_train.csv');
  if (existsSync(jsonl) && existsSync(csv)) return { jsonl, csv };
  const items = metricsBenchItems(pairs);
  writeFileSync(jsonl, `${items.map((item) => JSON.stringify(item)).join('\n')}\n`);
  const rand = seededRandom(11);
  const rows: CaptionRow[] = items.map((item, k) => {
    const x = rand();
    const failed = x < 0.01;
    const references =
      x < 0.02
        ? []
        : x < 0.2
          ? [...item.references, items[(k * 7919) % pairs]!.candidate]
          : [...item.references];
    return {
      imageId: item.id,
      imagePath: `images/${item.id}.jpg`,
      references,
      generatedCaption: failed
        ? ''
        : rand() < 0.05
          ? `"${item.candidate}",\n quoted`
          : item.candidate,
      processingTimeS: rand() * 0.5,
      batchSize: 8,
      engine: 'transformers',
      model: 'onnx-community/Qwen2-VL-2B-Instruct',
      status: failed ? 'error' : 'ok',
      error: failed ? 'decode failed: "bad, truncated JPEG"' : '',
      concepts: rand() < 0.5 ? ['C0040405', 'C1306645'] : [],
    };
  });
  mkdirSync(join(dir, `captions-${pairs}`), { recursive: true });
  writeFileSync(csv, formatCaptionsCsv(rows));
  return { jsonl, csv };
}

function runCli(captions: string, out: string): EvaluateRound {
  const rssFile = join(out, '..', `.rss-${process.pid}`);
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    ['--import', RSS_PROBE, CLI, 'evaluate', '--captions', captions, '--out', out],
    { encoding: 'utf8', env: { ...process.env, BENCH_EVALUATE_RSS_FILE: rssFile } },
  );
  const wallSeconds = (performance.now() - started) / 1000;
  if (child.status !== 0) {
    throw new Error(`medcap evaluate exited ${child.status}:\n${child.stderr}`);
  }
  const scored = /scored in ([0-9.]+) s/.exec(child.stderr);
  const peakRssBytes = Number(readFileSync(rssFile, 'utf8'));
  rmSync(rssFile);
  return {
    wallSeconds,
    scoredSeconds: scored ? Number(scored[1]) : null,
    peakRssBytes,
    loadAverage: loadavg()[0]!,
  };
}

/** Names of the files that differ between two output folders (or are missing from one). */
function differingFiles(a: string, b: string): string[] {
  const names = new Set([...readdirSync(a), ...readdirSync(b)]);
  return [...names].filter((name) => {
    const pa = join(a, name);
    const pb = join(b, name);
    return !existsSync(pa) || !existsSync(pb) || !readFileSync(pa).equals(readFileSync(pb));
  });
}

export async function benchEvaluate(
  options: {
    pairs?: number;
    rounds?: number;
    dir?: string;
    save?: boolean;
    check?: string;
    keepOutputs?: string;
    log?: (line: string) => void;
  } = {},
): Promise<EvaluateBenchResult> {
  const pairs = options.pairs ?? 60_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const dir = options.dir ?? join(tmpdir(), 'medcap-bench-evaluate');
  const inputs = writeEvaluateCorpus(dir, pairs);
  const out = join(dir, 'out');
  const rounds: EvaluateRound[] = [];
  for (let r = 0; r < (options.rounds ?? 3); r++) {
    rmSync(out, { recursive: true, force: true });
    const round = runCli(inputs.jsonl, out);
    rounds.push(round);
    log(
      `evaluate: ${pairs} pairs, default settings: ${round.wallSeconds.toFixed(2)} s wall ` +
        `(scored in ${round.scoredSeconds?.toFixed(2) ?? '?'} s), ` +
        `peak RSS ${(round.peakRssBytes / 2 ** 20).toFixed(0)} MiB, load average ${round.loadAverage.toFixed(1)}`,
    );
  }
  const kept = options.keepOutputs ?? options.check;
  if (kept !== undefined) {
    const target = options.keepOutputs ?? join(dir, 'check');
    for (const [name, path] of Object.entries(inputs)) {
      const outputs = join(target, name);
      rmSync(outputs, { recursive: true, force: true });
      runCli(path, outputs);
      if (options.check !== undefined) {
        const differ = differingFiles(join(options.check, name), outputs);
        log(
          differ.length === 0
            ? `check: ${name} outputs byte-identical to ${options.check}`
            : `check: ${name} outputs DIFFER from ${options.check}: ${differ.join(', ')}`,
        );
        if (differ.length > 0) process.exitCode = 1;
      }
    }
  }
  const result: EvaluateBenchResult = {
    pairs,
    command: 'medcap evaluate --captions pairs.jsonl --out DIR (default settings)',
    rounds,
    node: process.version,
    cpus: cpus().length,
    date: new Date().toISOString(),
  };
  if (options.save) {
    const path = newResultPath('evaluate');
    writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${path}`);
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const number = (flag: string) => (value(flag) === undefined ? undefined : Number(value(flag)));
  const pairs = number('--pairs');
  const rounds = number('--rounds');
  const dir = value('--dir');
  const check = value('--check');
  const keepOutputs = value('--keep-outputs');
  await benchEvaluate({
    ...(pairs === undefined ? {} : { pairs }),
    ...(rounds === undefined ? {} : { rounds }),
    ...(dir === undefined ? {} : { dir }),
    ...(check === undefined ? {} : { check }),
    ...(keepOutputs === undefined ? {} : { keepOutputs }),
    save: args.includes('--save'),
  });
}
