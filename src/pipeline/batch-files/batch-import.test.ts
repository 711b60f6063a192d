import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captionConfig } from '../../../test/support/config.js';
import { imageSpecs, writeRocov2 } from '../../../test/support/datasets.js';
import { FakeEngine } from '../../../test/support/fake-engine.js';
import { DatasetError } from '../../core/errors.js';
import { caption } from '../run.js';
import { importBatch, resultOfLine } from './batch-import.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-import-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const completion = (text: string, model = 'served-model') => ({
  status_code: 200,
  request_id: 'r',
  body: {
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
  },
});

describe('resultOfLine', () => {
  it('reads the error of each shape vLLM run-batch writes', () => {
    const failed = { status_code: 400, request_id: 'r', body: null };
    // a plain string (stream mode, an exception in the server)
    expect(resultOfLine({ custom_id: 'a', response: failed, error: 'boom' }).outcome).toEqual({
      ok: false,
      error: 'batch error boom',
    });
    // its ErrorResponse, older (flat) and newer (nested) form
    const flat = { object: 'error', message: 'too long', type: 'BadRequestError', code: 400 };
    expect(resultOfLine({ custom_id: 'a', response: failed, error: flat }).outcome).toEqual({
      ok: false,
      error: 'batch error too long',
    });
    const nested = { error: { message: 'context too long', type: 'BadRequestError', code: 400 } };
    expect(resultOfLine({ custom_id: 'a', response: failed, error: nested }).outcome).toEqual({
      ok: false,
      error: 'batch error context too long',
    });
  });

  it("reads OpenAI's expired and failed requests", () => {
    const expired = { code: 'batch_expired', message: 'not executed before the window expired' };
    expect(resultOfLine({ custom_id: 'a', response: null, error: expired }).outcome).toEqual({
      ok: false,
      error: 'batch error batch_expired: not executed before the window expired',
    });
    const refused = {
      status_code: 400,
      request_id: 'r',
      body: { error: { message: 'Invalid image.', type: 'invalid_request_error' } },
    };
    expect(resultOfLine({ custom_id: 'a', response: refused, error: null }).outcome).toEqual({
      ok: false,
      error: 'HTTP 400: Invalid image.',
    });
  });
});

describe('importBatch', () => {
  it('refuses the batch input file in place of its results, naming file and line', async () => {
    const data = await writeRocov2(join(root, 'data-a'), imageSpecs(2));
    const requests = join(root, 'batch_train.jsonl');
    const request = { method: 'POST', url: '/v1/chat/completions', body: { model: 'm' } };
    await writeFile(
      requests,
      `${JSON.stringify({ custom_id: 'img0', ...request })}\n${JSON.stringify({ custom_id: 'img1', ...request })}\n`,
    );
    await expect(
      importBatch(captionConfig({ data, out: join(root, 'out-a') }), [requests]),
    ).rejects.toThrow(
      `${requests}:1 is a batch request (custom_id, method, url, body), not a result`,
    );
  });

  it('names the model the results report on rows that have none', async () => {
    const specs = imageSpecs(3);
    const data = await writeRocov2(join(root, 'data-b'), specs);
    const results = join(root, 'results-b.jsonl');
    const lines = [
      { custom_id: specs[0]!.id, response: completion('a caption'), error: null },
      { custom_id: specs[1]!.id, response: { status_code: 500, body: null }, error: 'died' },
    ];
    await writeFile(results, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const imported = await importBatch(captionConfig({ data, out: join(root, 'out-b') }), [
      results,
    ]);
    expect(imported.rows.map((r) => [r.status, r.error, r.model])).toEqual([
      ['ok', '', 'served-model'],
      ['error', 'batch error died', 'served-model'],
      ['error', 'no result in batch output', 'served-model'],
    ]);
  });
});

describe('importBatch into a folder with a caption journal', () => {
  it('refuses without --overwrite, and with it removes the journal so the imported rows stand', async () => {
    const specs = imageSpecs(2);
    const data = await writeRocov2(join(root, 'data-j'), specs);
    const out = join(root, 'out-j');
    await caption(captionConfig({ data, out }), { engine: new FakeEngine() });
    const journal = join(out, 'medical_captions_train.journal.jsonl');
    const results = join(root, 'results-j.jsonl');
    const line = { custom_id: specs[0]!.id, response: completion('imported'), error: null };
    await writeFile(results, `${JSON.stringify(line)}\n`);
    const csv = join(out, 'medical_captions_train.csv');
    const before = await readFile(csv, 'utf8');
    await expect(importBatch(captionConfig({ data, out }), [results])).rejects.toThrow(
      /^--out .*out-j already holds a caption journal with 2 captioned images .*: pass --overwrite to replace both/,
    );
    expect(await readFile(csv, 'utf8')).toBe(before);
    const imported = await importBatch(captionConfig({ data, out, overwrite: true }), [results]);
    expect(imported.rows[0]!.generatedCaption).toBe('imported');
    expect(existsSync(journal)).toBe(false);
  });
});

describe('importBatch of a file that is not JSONL', () => {
  it('fails naming the file instead of making every row "no result"', async () => {
    const data = await writeRocov2(join(root, 'data-t'), imageSpecs(2));
    const results = join(root, 'results.txt');
    await writeFile(results, 'id,caption\nIMG_0001,a scan\n');
    const refusal = importBatch(captionConfig({ data, out: join(root, 'out-t') }), [results]);
    await expect(refusal).rejects.toBeInstanceOf(DatasetError);
    await expect(refusal).rejects.toThrow(
      /^import-batch: .*results\.txt: none of its 2 lines is JSON/,
    );
  });
});

describe('importBatch of results files as services hand them over', () => {
  it('reads a gzip file and one with a byte order mark; an empty error beside a 200 is no error', async () => {
    const specs = imageSpecs(2);
    const data = await writeRocov2(join(root, 'data-g'), specs);
    const lines = [
      { custom_id: specs[0]!.id, response: completion('first'), error: {} },
      { custom_id: specs[1]!.id, response: completion('second'), error: null },
    ];
    const text = lines.map((l) => JSON.stringify(l)).join('\r\n');
    const gz = join(root, 'results-g.jsonl.gz');
    await writeFile(gz, gzipSync(text));
    const bom = join(root, 'results-bom.jsonl');
    await writeFile(bom, `\uFEFF${text}`);
    for (const file of [gz, bom]) {
      const imported = await importBatch(
        captionConfig({ data, out: join(root, `out-g-${file.length}`) }),
        [file],
      );
      expect(imported.rows.map((r) => [r.status, r.generatedCaption])).toEqual([
        ['ok', 'first'],
        ['ok', 'second'],
      ]);
    }
  });

  it('counts the results left out of the selection (the CLI exits 3 on them)', async () => {
    const specs = imageSpecs(3);
    const data = await writeRocov2(join(root, 'data-l'), specs);
    const results = join(root, 'results-l.jsonl');
    const lines = specs.map((s) => ({ custom_id: s.id, response: completion(s.id), error: null }));
    await writeFile(results, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const imported = await importBatch(
      captionConfig({ data, out: join(root, 'out-l'), limit: 1 }),
      [results],
    );
    expect([imported.rows.length, imported.unknown]).toEqual([1, 2]);
  });
});
