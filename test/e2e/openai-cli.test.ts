import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { exportBatch } from '../../src/pipeline/batch-files/batch-export.js';
import { importBatch } from '../../src/pipeline/batch-files/batch-import.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { type ChatBody, decodeDataUri, FakeOpenAIServer } from '../support/fake-openai-server.js';
import { runMain } from '../support/main-in-process.js';

const SECRET = 'sk-e2e-SECRET-4f9a7c1e';

let root: string;
let server: FakeOpenAIServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-openai-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
});

const SIZES: [number, number][] = [
  [64, 48],
  [120, 40],
  [200, 200],
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function run(argv: string[]) {
  const { code, err, out } = await runMain(argv, { env: {} });
  return { code, stderr: err, stdout: out };
}

describe('medcap caption --engine openai', () => {
  it('captions a ROCOv2 dataset through the server and keeps the key out of every file and log', async () => {
    vi.stubEnv('OPENAI_API_KEY', SECRET);
    server = await FakeOpenAIServer.start({
      models: ['fake-vlm'],
      delayMs: 10,
      reply: (_r, image) =>
        image.width === 196 // the 200x200 images after resizing
          ? { status: 400, body: { error: { message: 'image too large for this model' } } }
          : {},
    });
    const specs = imageSpecs(9, SIZES);
    specs[4]!.kind = 'corrupt';
    const data = await writeRocov2(join(root, 'rocov2'), specs);
    const out = join(root, 'live');
    const { code, stderr } = await run([
      'caption',
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--data',
      data,
      '--out',
      out,
      '--concurrency',
      '3',
      '--max-new-tokens',
      '32',
      '--log-format',
      'json',
    ]);
    expect(code).toBe(3);

    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.imageId)).toEqual(specs.map((s) => s.id));
    expect(rows.map((r) => r.references[0])).toEqual(specs.map((s) => s.caption));
    expect(rows.every((r) => r.engine === 'openai' && r.model === 'fake-vlm')).toBe(true);
    expect(rows.every((r) => r.batchSize === 3)).toBe(true);
    for (const [i, row] of rows.entries()) {
      const [w] = SIZES[i % SIZES.length]!;
      if (i === 4) {
        expect(row.status).toBe('error');
        expect(row.error).toMatch(/IMG_0005\.jpg: cannot decode image/);
      } else if (w === 200) {
        expect(row.status).toBe('error');
        expect(row.error).toBe(`HTTP 400: image too large for this model from ${server.url}`);
      } else {
        expect(row.status).toBe('ok');
        // the server saw a multiple-of-28 resize of the original (64x48 → 56x56, 120x40 → 112x28)
        const size = w === 64 ? '56x56' : '112x28';
        expect(row.generatedCaption).toMatch(new RegExp(`^a ${size} image, first pixel \\d+`));
      }
    }
    // 8 preprocessed images went out, none retried; never more than 3 at a time
    expect(server.chatRequests).toHaveLength(8);
    expect(server.maxInFlight).toBeLessThanOrEqual(3);
    expect(server.chatRequests.every((r) => r.body.max_tokens === 32)).toBe(true);
    expect(server.chatRequests.every((r) => r.headers.authorization === `Bearer ${SECRET}`)).toBe(
      true,
    );

    expect(stderr).toContain('API key from OPENAI_API_KEY');
    expect(stderr).not.toContain(SECRET);
    for (const file of await filesUnder(out)) {
      expect(await readFile(file, 'utf8'), file).not.toContain(SECRET);
    }
  });

  it('asks the server for its model when --model is left at the default', async () => {
    server = await FakeOpenAIServer.start({ models: ['org/served-vlm'] });
    const data = await writeRocov2(join(root, 'auto-model'), imageSpecs(2));
    const out = join(root, 'auto-model-out');
    const { code, stderr } = await run([
      'caption',
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--data',
      data,
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/using org\/served-vlm, the model the server serves/);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.model)).toEqual(['org/served-vlm', 'org/served-vlm']);
    expect(server.chatRequests.map((r) => r.body.model)).toEqual([
      'org/served-vlm',
      'org/served-vlm',
    ]);
  });

  it('exits 1 naming --endpoint when none is given', async () => {
    const data = await writeRocov2(join(root, 'no-endpoint'), imageSpecs(1));
    const { code, stderr } = await run([
      'caption',
      '--engine',
      'openai',
      '--data',
      data,
      '--out',
      join(root, 'no-endpoint-out'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/--endpoint is required with --engine openai/);
  });
});

/** Plays `vllm run-batch`: sends each request of a batch file to the server, collects output lines. */
async function runBatch(
  path: string,
  url: string,
): Promise<{ custom_id: string; status: number; body: unknown }[]> {
  const lines = (await readFile(path, 'utf8')).trim().split('\n');
  const results = [];
  for (const text of lines) {
    const line = JSON.parse(text) as { custom_id: string; url: string; body: ChatBody };
    const response = await fetch(`${url.replace(/\/v1$/, '')}${line.url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(line.body),
    });
    results.push({
      custom_id: line.custom_id,
      status: response.status,
      body: await response.json(),
    });
  }
  return results;
}

const outputLine = (r: { custom_id: string; status: number; body: unknown }) =>
  JSON.stringify({
    id: `batch_req_${r.custom_id}`,
    custom_id: r.custom_id,
    response: { status_code: r.status, request_id: `req_${r.custom_id}`, body: r.body },
    error: null,
  });

describe('medcap export-batch / import-batch', () => {
  it('round-trips: the same requests and captions as the live engine, errors in their rows', async () => {
    server = await FakeOpenAIServer.start({ models: ['fake-vlm'] });
    const specs = imageSpecs(6, SIZES);
    specs[2]!.kind = 'corrupt';
    const data = await writeRocov2(join(root, 'batch-data'), specs, {
      concepts: { IMG_0001: 'C0040405;C0817096' },
    });
    const exported = join(root, 'batch-export');

    const exportRun = await run([
      'export-batch',
      '--data',
      data,
      '--out',
      exported,
      '--model',
      'fake-vlm',
      '--max-new-tokens',
      '40',
      '--prompt',
      'Caption this scan.',
    ]);
    expect(exportRun.code).toBe(3); // one image skipped
    const batchFile = join(exported, 'batch_train.jsonl');
    expect(exportRun.stdout.trim()).toBe(batchFile);
    expect(exportRun.stderr).toMatch(/skipped IMG_0003: .*cannot decode image/);
    const lines = (await readFile(batchFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id)).toEqual([
      'IMG_0001',
      'IMG_0002',
      'IMG_0004',
      'IMG_0005',
      'IMG_0006',
    ]);
    for (const line of lines) {
      expect(line.method).toBe('POST');
      expect(line.url).toBe('/v1/chat/completions');
      expect(line.body).toMatchObject({ model: 'fake-vlm', max_tokens: 40, temperature: 0 });
      expect(line.body.messages[0].content[1]).toEqual({
        type: 'text',
        text: 'Caption this scan.',
      });
    }
    const first = await decodeDataUri(lines[0].body.messages[0].content[0].image_url.url);
    expect([first.width, first.height]).toEqual([56, 56]);

    // The live engine on the same dataset, for comparison.
    const live = join(root, 'batch-live');
    const liveRun = await run([
      'caption',
      '--engine',
      'openai',
      '--endpoint',
      server.url,
      '--model',
      'fake-vlm',
      '--max-new-tokens',
      '40',
      '--prompt',
      'Caption this scan.',
      '--data',
      data,
      '--out',
      live,
    ]);
    expect(liveRun.code).toBe(3);
    // export-batch writes the bodies the live engine sends, with the same pixels: live PNGs
    // are stored (zlib level 0), the batch file's compressed (level 1), so only the
    // image's bytes differ.
    const liveRequests = await Promise.all(server.chatRequests.map((r) => samePixels(r.body)));
    const batchRequests = await Promise.all(lines.map((l) => samePixels(l.body)));
    expect(batchRequests.sort()).toEqual(liveRequests.sort());

    // Run the batch, then lose one result, fail two, add a stray one; output order shuffled.
    const results = await runBatch(batchFile, server.url);
    const byId = new Map(results.map((r) => [r.custom_id, r]));
    const output = [
      outputLine(byId.get('IMG_0006')!),
      JSON.stringify({
        id: 'batch_req_x',
        custom_id: 'IMG_0002',
        response: null,
        error: { code: 'server_error', message: 'worker died' },
      }),
      outputLine({
        custom_id: 'IMG_0004',
        status: 400,
        body: { object: 'error', message: 'bad image' },
      }),
      outputLine(byId.get('IMG_0001')!),
      outputLine({ custom_id: 'NOT_IN_DATASET', status: 200, body: byId.get('IMG_0001')!.body }),
      'this line is broken',
    ];
    // saved beside the batch file, where import-batch finds export's manifest
    const resultsFile = join(exported, 'results.jsonl');
    await writeFile(resultsFile, `${output.join('\n')}\n`);

    const imported = join(root, 'batch-import');
    const importRun = await run(['import-batch', resultsFile, '--data', data, '--out', imported]);
    expect(importRun.code).toBe(3);
    expect(importRun.stderr).toMatch(/results.jsonl:6: not valid JSON/);
    expect(importRun.stderr).toMatch(
      /1 result for images not in the selected dataset items \(e\.g\. NOT_IN_DATASET\)/,
    );
    const rows = await readCaptionsCsv(join(imported, 'medical_captions_train.csv'));
    const liveRows = await readCaptionsCsv(join(live, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.imageId)).toEqual(specs.map((s) => s.id));
    expect(rows.map((r) => r.references)).toEqual(liveRows.map((r) => r.references));
    expect(rows.map((r) => r.imagePath)).toEqual(liveRows.map((r) => r.imagePath));
    expect(rows[0]!.concepts).toEqual(['C0040405', 'C0817096']);
    expect(rows.every((r) => r.engine === 'openai-batch')).toBe(true);
    expect(rows.map((r) => r.status)).toEqual(['ok', 'error', 'error', 'error', 'error', 'ok']);
    expect(rows[0]!.generatedCaption).toBe(liveRows[0]!.generatedCaption);
    expect(rows[5]!.generatedCaption).toBe(liveRows[5]!.generatedCaption);
    expect(rows[0]!.model).toBe('fake-vlm');
    expect(rows[1]!.error).toBe('batch error server_error: worker died');
    expect(rows[2]!.error).toMatch(/^not exported: .*IMG_0003\.jpg: cannot decode image/);
    expect(rows[3]!.error).toBe('HTTP 400: bad image');
    expect(rows[4]!.error).toBe('no result in batch output');
    expect(rows[0]!.batchSize).toBe(5); // the results file held 5 usable lines
    // no timing comes back from a batch job: the processing_time_s cell stays empty
    const csv = await readFile(join(imported, 'medical_captions_train.csv'), 'utf8');
    expect(csv.split('\n').find((l) => l.startsWith('IMG_0001,'))).toMatch(
      /,,5,openai-batch,fake-vlm,ok,,C0040405;C0817096\r?$/,
    );
  });

  it('splits a big export into numbered files at the request and byte limits, and imports them all', async () => {
    server = await FakeOpenAIServer.start({ models: ['fake-vlm'] });
    const specs = imageSpecs(5, SIZES);
    const data = await writeRocov2(join(root, 'split-data'), specs);
    const out = join(root, 'split-out');
    const config = captionConfig({ data, out, model: 'fake-vlm', prefetch: 2 });

    const limited = await exportBatch({ ...config, limit: 3 });
    expect(limited.exported).toBe(3);
    const single = await exportBatch(config);
    expect(single.files.map((f) => f.path)).toEqual([join(out, 'batch_train.jsonl')]);

    const byCount = await exportBatch(config, { maxRequests: 2 });
    expect(byCount.files.map((f) => [f.path, f.requests])).toEqual([
      [join(out, 'batch_train_001.jsonl'), 2],
      [join(out, 'batch_train_002.jsonl'), 2],
      [join(out, 'batch_train_003.jsonl'), 1],
    ]);
    // the earlier single file is gone; no temp files are left
    expect((await readdir(out)).sort()).toEqual([
      'batch_train.manifest.json',
      'batch_train_001.jsonl',
      'batch_train_002.jsonl',
      'batch_train_003.jsonl',
    ]);
    for (const file of byCount.files) {
      const text = await readFile(file.path, 'utf8');
      expect(Buffer.byteLength(text)).toBe(file.bytes);
    }

    const largest = Math.max(...byCount.files.map((f) => f.bytes));
    const byBytes = await exportBatch(config, { maxBytes: largest });
    expect(byBytes.files.every((f) => f.bytes <= largest)).toBe(true);
    expect(byBytes.files.reduce((n, f) => n + f.requests, 0)).toBe(5);
    const tiny = await exportBatch(config, { maxBytes: 100 });
    expect(tiny.exported).toBe(0);
    expect(tiny.skipped[0]!.error).toMatch(/over the .* limit of one batch file/);

    // restore a 3-file export and run each file as its own batch job
    const parts = await exportBatch(config, { maxRequests: 2 });
    const resultFiles: string[] = [];
    for (const [i, file] of parts.files.entries()) {
      const results = await runBatch(file.path, server.url);
      const path = join(root, `split-results-${i}.jsonl`);
      await writeFile(path, `${results.map(outputLine).join('\n')}\n`);
      resultFiles.push(path);
    }
    const imported = await importBatch(
      captionConfig({ data, out: join(root, 'split-import') }),
      resultFiles,
    );
    expect(imported.failed).toBe(0);
    expect(imported.rows.map((r) => r.imageId)).toEqual(specs.map((s) => s.id));
    expect(imported.rows.map((r) => r.batchSize)).toEqual([2, 2, 2, 2, 1]);
    expect(imported.rows.every((r) => r.generatedCaption.startsWith('a '))).toBe(true);
  });

  it('import-batch needs an existing results file', async () => {
    const data = await writeRocov2(join(root, 'missing-results'), imageSpecs(1));
    const { code, stderr } = await run([
      'import-batch',
      join(root, 'nope.jsonl'),
      '--data',
      data,
      '--out',
      join(root, 'missing-results-out'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/import-batch: results file .*nope\.jsonl: no such file/);
    expect(existsSync(join(root, 'missing-results-out')), 'checked before --out is made').toBe(
      false,
    );
  });
});

/** A request body as JSON, its image replaced by the image's type, size and decoded pixels. */
async function samePixels(body: ChatBody): Promise<string> {
  const copy = structuredClone(body);
  const part = copy.messages[0]!.content[0]!.image_url!;
  const image = await decodeDataUri(part.url);
  part.url = `${image.mime} ${image.width}x${image.height} ${image.rgb.toString('base64')}`;
  return JSON.stringify(copy);
}
