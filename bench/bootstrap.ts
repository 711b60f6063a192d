/**
 * The bootstrap alone, in one thread: 1,000 resamples of 60,000 items and evaluate's 12
 * default columns (BLEU's 8 counts sharing 4 lanes, 10 lanes in all), drawn and summed.
 *
 *   npx tsx bench/bootstrap.ts [ROUNDS] [--dist DIR]... [--save]
 *
 * Each --dist names a build's dist folder (its metrics/bootstrap.js); the builds are timed
 * in turn, round by round. Without --dist, this working tree's src. Prints, and with --save
 * writes bench/results/bootstrap-DATE.json.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Bootstrap from '../src/metrics/bootstrap.js';
import { seededRandom } from '../src/metrics/statistics.js';
import { newResultPath } from './results-path.js';

const ITEMS = 60_000;
const RESAMPLES = 1000;

/** 8 columns of small counts (BLEU's), then 4 of fractions. */
function columns(): Float64Array[] {
  const random = seededRandom(11);
  return Array.from({ length: 12 }, (_, j) =>
    Float64Array.from({ length: ITEMS }, () => (j < 8 ? Math.floor(random() * 20) : random())),
  );
}

async function load(dist: string | undefined): Promise<typeof Bootstrap> {
  if (dist === undefined) return import('../src/metrics/bootstrap.js');
  return import(pathToFileURL(join(resolve(dist), 'metrics', 'bootstrap.js')).href);
}

export async function benchBootstrap(rounds = 3, dists: (string | undefined)[] = [undefined]) {
  const data = columns();
  const builds = await Promise.all(dists.map(load));
  const results = dists.map((dist) => ({ build: dist ?? 'src', ms: [] as number[] }));
  for (let round = 0; round < rounds; round++) {
    builds.forEach((build, b) => {
      const job = build.createResampleJob(data, RESAMPLES, 7);
      const started = performance.now();
      build.runResamples(job);
      results[b]!.ms.push(Math.round(performance.now() - started));
    });
  }
  for (const { build, ms } of results) {
    process.stdout.write(`${build}: ${ms.join(', ')} ms for ${RESAMPLES} resamples\n`);
  }
  return { items: ITEMS, columns: 12, resamples: RESAMPLES, loadAverage: loadavg()[0], results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const dists: string[] = [];
  args.forEach((arg, i) => {
    if (arg === '--dist') dists.push(args[i + 1]!);
  });
  const rounds = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 3);
  const result = await benchBootstrap(rounds, dists.length > 0 ? dists : [undefined]);
  if (args.includes('--save')) {
    const path = newResultPath('bootstrap');
    writeFileSync(
      path,
      `${JSON.stringify({ command: `npx tsx bench/bootstrap.ts ${args.join(' ')}`, ...result }, null, 1)}\n`,
    );
    process.stdout.write(`wrote ${path}\n`);
  }
}
