/**
 * The `openai` engine's client side (issue #10 §3): the real CLI (`node dist/cli/bin.js
 * caption --engine openai`, built first) against a local server in another process that
 * answers at once (bench/openai-server.ts), on generated JPEGs on disk. Reports images/s
 * (wall clock of the whole command, start-up included), requests in flight as the client
 * counted them (most, time-weighted mean) and as the server saw them, bytes sent per
 * image, and the run's peak RSS; writes bench/results/openai-client-YYYY-MM-DD.json.
 *
 *   npm run bench -- openai          (MEDCAP_BENCH_OPENAI_IMAGES=N to change the 60,000)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { newResultPath } from './results-path.js';

const ROOT = join(import.meta.dirname, '..');
const IMAGES = Number(process.env.MEDCAP_BENCH_OPENAI_IMAGES ?? 60_000);
/** Distinct images; the rest of the dataset is hard links to them. */
const DISTINCT = 500;

interface Case {
  label: string;
  images: number;
  side: number;
  delayMs: number;
  flags: string[];
}

const CASES: Case[] = [
  {
    label: `${IMAGES} JPEGs 448x448 (sent as they are), instant server, checkpoints off`,
    images: IMAGES,
    side: 448,
    delayMs: 0,
    flags: ['--checkpoint-every', '0'],
  },
  {
    label: `${IMAGES} JPEGs 448x448, instant server, default checkpoints (every 100)`,
    images: IMAGES,
    side: 448,
    delayMs: 0,
    flags: [],
  },
  {
    label: '10000 JPEGs 512x512 (resized, sent as PNG), instant server, checkpoints off',
    images: 10_000,
    side: 512,
    delayMs: 0,
    flags: ['--checkpoint-every', '0'],
  },
  {
    label: '10000 JPEGs 448x448, --image-encoding png, instant server, checkpoints off',
    images: 10_000,
    side: 448,
    delayMs: 0,
    flags: ['--checkpoint-every', '0', '--image-encoding', 'png'],
  },
  {
    label: '10000 JPEGs 448x448, server answering in 50 ms (ceiling 640/s), checkpoints off',
    images: 10_000,
    side: 448,
    delayMs: 50,
    flags: ['--checkpoint-every', '0'],
  },
];

const CONCURRENCY = 32;

/** A ROCOv2-layout dataset of `count` JPEGs (3 in 4 grey, as most radiology is). */
async function dataset(count: number, side: number): Promise<string> {
  const dir = join(tmpdir(), 'medcap-bench-openai', `${count}-${side}`);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'train'), { recursive: true });
  const lines = ['ID,Caption'];
  for (let i = 0; i < count; i++) {
    const id = `BENCH_${String(i).padStart(6, '0')}`;
    const path = join(dir, 'train', `${id}.jpg`);
    if (i < DISTINCT) await writeFile(path, await scan(side, i));
    else await link(join(dir, 'train', `BENCH_${String(i % DISTINCT).padStart(6, '0')}.jpg`), path);
    lines.push(`${id},"Axial CT image number ${i}."`);
  }
  await writeFile(join(dir, 'train_captions.csv'), `${lines.join('\n')}\n`);
  await writeFile(done, '');
  return dir;
}

/** Shading and speckle, so JPEG and PNG have real work to do. */
async function scan(side: number, seed: number): Promise<Buffer> {
  const grey = seed % 4 !== 0;
  const channels = grey ? 1 : 3;
  const pixels = Buffer.alloc(side * side * channels);
  let state = seed + 1;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const p = Math.floor(i / channels);
    const x = p % side;
    const y = Math.floor(p / side);
    pixels[i] = Math.max(
      0,
      Math.min(255, 120 + 70 * Math.sin(x / 23 + seed) * Math.cos(y / 31) + (state % 16)),
    );
  }
  const image = sharp(pixels, { raw: { width: side, height: side, channels } });
  return (grey ? image.toColourspace('b-w') : image).jpeg({ quality: 90 }).toBuffer();
}

/** This process's environment without the bench's own MEDCAP_BENCH_* knobs, which medcap refuses as unknown settings. */
function medcapEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MEDCAP_BENCH_')),
  );
}

function run(command: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: medcapEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

async function startServer(delayMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'openai-server.ts'), '--delay-ms', String(delayMs)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = await createInterface({ input: child.stdout })
    [Symbol.asyncIterator]()
    .next()
    .then((next) => [next.value as string]);
  const url = `http://127.0.0.1:${Number(line)}`;
  return {
    url: `${url}/v1`,
    stats: async () =>
      (await (await fetch(`${url}/stats`)).json()) as {
        requests: number;
        bodyBytes: number;
        maxInFlight: number;
        meanInFlight: number;
      },
    stop: () => child.kill(),
  };
}

export async function benchOpenAI(): Promise<unknown[]> {
  const build = await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
  if (build.code !== 0) throw new Error(`build failed:\n${build.stderr}`);
  const results: unknown[] = [];
  for (const c of CASES) {
    const data = await dataset(c.images, c.side);
    const server = await startServer(c.delayMs);
    const out = join(tmpdir(), 'medcap-bench-openai', 'out');
    try {
      const started = performance.now();
      const { code, stderr } = await run(process.execPath, [
        join(ROOT, 'dist', 'cli', 'bin.js'),
        'caption',
        ...['--data', data, '--out', out, '--overwrite', '--limit', 'all'],
        ...['--engine', 'openai', '--endpoint', server.url, '--concurrency', String(CONCURRENCY)],
        ...c.flags,
      ]);
      const wallS = (performance.now() - started) / 1000;
      if (code !== 0) throw new Error(`medcap exited with ${code}:\n${stderr.slice(-2000)}`);
      const client = /requests in flight: at most (\d+), ([\d.]+) on average/.exec(stderr);
      const journal = await readFile(join(out, 'medical_captions_train.journal.jsonl'), 'utf8');
      const end = JSON.parse(journal.trimEnd().split('\n').at(-1)!) as {
        done: number;
        failed: number;
        peakRssBytes: number;
      };
      const seen = await server.stats();
      const result = {
        case: c.label,
        images: c.images,
        concurrency: CONCURRENCY,
        serverDelayMs: c.delayMs,
        flags: c.flags,
        wallS: Number(wallS.toFixed(2)),
        imagesPerS: Number((end.done / wallS).toFixed(1)),
        failed: end.failed,
        clientMaxInFlight: Number(client?.[1]),
        clientMeanInFlight: Number(client?.[2]),
        serverMaxInFlight: seen.maxInFlight,
        serverMeanInFlight: Number(seen.meanInFlight.toFixed(1)),
        bytesPerRequest: Math.round(seen.bodyBytes / seen.requests),
        peakRssMiB: Math.round(end.peakRssBytes / 1024 ** 2),
      };
      results.push(result);
      process.stdout.write(
        `${c.label}\n  ${result.imagesPerS} img/s (${result.wallS} s wall, CLI start-up included), ` +
          `in flight: client max ${result.clientMaxInFlight} mean ${result.clientMeanInFlight}, ` +
          `server max ${result.serverMaxInFlight} mean ${result.serverMeanInFlight}; ` +
          `${Math.round(result.bytesPerRequest / 1024)} KiB/request; peak RSS ${result.peakRssMiB} MiB; ` +
          `${result.failed} failed\n`,
      );
    } finally {
      server.stop();
    }
  }
  const day = new Date().toISOString().slice(0, 10);
  const path = newResultPath('openai-client');
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version };
  await writeFile(path, `${JSON.stringify({ date: day, machine, results }, null, 2)}\n`);
  process.stdout.write(`wrote ${path}\n`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchOpenAI();
