import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { type Encoder, loadEncoder } from './encoder.js';
import {
  type EncoderSession,
  loadSession,
  loadSessionHere,
  loadSessionThread,
  type SessionBatch,
  type SessionSpec,
} from './session.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const TINY_ROBERTA = join(ROOT, 'test/fixtures/bertscore/tiny-roberta');
/** The tiny RoBERTa as exported (its one output: logits, float32 [batch, tokens, vocabulary]). */
const spec: SessionSpec = {
  folder: TINY_ROBERTA,
  subfolder: 'onnx',
  device: 'cpu',
  externalData: false,
  output: 'logits',
};

function batch(rows: number[][], pad = 1): SessionBatch {
  const tokens = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * tokens).fill(BigInt(pad));
  const mask = new BigInt64Array(rows.length * tokens);
  rows.forEach((row, r) => {
    row.forEach((id, t) => {
      ids[r * tokens + t] = BigInt(id);
      mask[r * tokens + t] = 1n;
    });
  });
  return { ids, mask, rows: rows.length, tokens };
}

const sessions: EncoderSession[] = [];
let cacheDir: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'medcap-session-'));
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await rm(cacheDir, { recursive: true, force: true });
});

describe('the encoder session on a worker thread', () => {
  it('gives what the session on this thread gives, batches in the order given', async () => {
    const here = await loadSessionHere(spec);
    const thread = await loadSessionThread(spec);
    sessions.push(here, thread);
    expect([here.threaded, thread.threaded]).toEqual([false, true]);
    const inputs = [
      [[0, 5, 9, 2]],
      [
        [0, 17, 4, 30, 11, 2],
        [0, 8, 2],
      ],
      [[0, 2]],
    ];
    // all three handed over before the first is read
    const pending = inputs.map((rows) => thread.run(batch(rows)));
    for (const [i, rows] of inputs.entries()) {
      const expected = await here.run(batch(rows));
      const got = await pending[i]!;
      expect(got.dims).toEqual(expected.dims);
      expect(Array.from(got.data)).toEqual(Array.from(expected.data));
    }
  });

  it('reports a bad output as an error of that batch and keeps running', async () => {
    const thread = await loadSessionThread({ ...spec, output: 'no_such_output' });
    sessions.push(thread);
    await expect(thread.run(batch([[0, 5, 2]]))).rejects.toThrow(
      /expected a float32 \[batch, tokens, hidden\] output no_such_output/,
    );
    await expect(thread.run(batch([[0, 6, 2]]))).rejects.toThrow(/no_such_output/);
  });

  it("rejects a model it cannot load with the worker's reason; loadSession then tries here", async () => {
    const missing = { ...spec, folder: join(cacheDir, 'missing') };
    await expect(loadSessionThread(missing)).rejects.toThrow(/missing/);
    const told: unknown[] = [];
    await expect(loadSession(missing, (reason) => told.push(reason))).rejects.toThrow(/missing/);
    expect(told).toEqual([]); // not a fallback: this thread could not load it either
  });

  it('fails the batches of a stopped thread with a clear error', async () => {
    const thread = await loadSessionThread(spec);
    await thread.dispose();
    await expect(thread.run(batch([[0, 5, 2]]))).rejects.toThrow(
      /BERTScore: the encoder thread stopped/,
    );
  });
});

describe('an encoder whose session runs on a worker thread', () => {
  const encoders: Encoder[] = [];
  afterAll(async () => {
    await Promise.all(encoders.map((e) => e.dispose()));
  });

  it('embeds exactly as one whose session runs on this thread', async () => {
    const load = (sessionThread: boolean) =>
      loadEncoder({
        model: TINY_ROBERTA,
        device: 'cpu',
        layer: 1,
        offline: true,
        cacheDir,
        cwd: ROOT,
        batchSize: 3,
        maxBatchTokens: 4096,
        sessionThread,
        logger: silentLogger,
      });
    const [threaded, here] = await Promise.all([load(true), load(false)]);
    encoders.push(threaded, here);
    const sentences = [
      '',
      'Chest X-ray.',
      'Axial CT of the abdomen shows a renal cyst with calcifications.',
      'MRI brain.',
      'Renal cyst.',
      'Coronal T2-weighted image of the knee showing a meniscal tear and joint effusion.',
      'Chest X-ray.',
    ].map((s) => threaded.encode(s));
    const [a, b] = await Promise.all([threaded.embed(sentences), here.embed(sentences)]);
    expect(a.length).toBe(sentences.length);
    a.forEach((e, i) => {
      expect(e.ids).toEqual(sentences[i]);
      expect(Array.from(e.vectors)).toEqual(Array.from(b[i]!.vectors));
    });
  });
});
