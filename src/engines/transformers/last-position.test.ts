import { cp, lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadReference,
  referenceImage,
  TINY_MODEL_DIR,
  TINY_MODEL_SETTINGS,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { writeWithExternalData } from '../../../test/support/external-data.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import {
  GRAPH_FIELDS,
  graphOutputField,
  readGraphField,
  readOnnxGraph,
  writeEditedModel,
} from '../../formats/onnx/graph.js';
import { encodeNode, FLOAT, FLOAT16 } from '../../formats/onnx/half-precision.js';
import { lengthDelimited } from '../../formats/onnx/protobuf.js';
import { generateTokens } from './engine.js';
import {
  lastPositionModelFolder,
  planLastPositionLogits,
  withFirstRenamed,
} from './last-position.js';
import { type LoadedModel, loadTransformersModel, wantsLastPositionLogits } from './load.js';
import { PromptIds } from './prompt.js';

const DECODER = 'onnx/decoder_model_merged.onnx';
const ref = loadReference();

let cacheDir: string;
let sliced: LoadedModel;
let full: LoadedModel;
beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'medcap-last-position-'));
  sliced = await loadTransformersModel(
    TINY_MODEL_SETTINGS,
    { logger: silentLogger },
    { cacheDir, lastPositionLogits: true },
  );
  full = await loadTransformersModel(
    TINY_MODEL_SETTINGS,
    { logger: silentLogger },
    { cacheDir, lastPositionLogits: false },
  );
});
afterAll(async () => {
  await sliced?.model.dispose();
  await full?.model.dispose();
  await rm(cacheDir, { recursive: true, force: true });
});

/** Tokens of one greedy generate, and the logits shape of each decoder step it ran. */
async function run(
  loaded: LoadedModel,
  images: number[],
): Promise<{ tokens: number[][]; logitsDims: number[][] }> {
  const prompts = new PromptIds(loaded.processor, loaded.tokenizer, loaded.imageTokenId);
  const model = loaded.model as unknown as {
    forward(inputs: unknown): Promise<{ logits: { dims: number[] } }>;
  };
  const original = model.forward;
  const logitsDims: number[][] = [];
  model.forward = async function (this: unknown, inputs: unknown) {
    const out = await original.call(this, inputs);
    logitsDims.push([...out.logits.dims]);
    return out;
  };
  try {
    const tokens = await generateTokens(
      loaded,
      prompts,
      images.map((i) => referenceImage(ref.images[i]!, `img-${i}`)),
      { prompt: ref.prompt, maxNewTokens: ref.maxNewTokens },
    );
    return { tokens, logitsDims };
  } finally {
    model.forward = original;
  }
}

describe('last-position logits (the decoder rewrite)', () => {
  it('is on by default and off with MEDCAP_FULL_LOGITS=1 or lastPositionLogits: false', () => {
    expect(wantsLastPositionLogits({}, {})).toBe(true);
    expect(wantsLastPositionLogits({}, { MEDCAP_FULL_LOGITS: '1' })).toBe(false);
    expect(wantsLastPositionLogits({ lastPositionLogits: false }, {})).toBe(false);
  });

  it('the rewritten graph slices the hidden states before the LM head', async () => {
    const folder = await lastPositionModelFolder(TINY_MODEL_DIR, DECODER, cacheDir, silentLogger);
    expect(folder).not.toBe(TINY_MODEL_DIR);
    const graph = readOnnxGraph(join(folder, DECODER));
    const head = graph.nodes.find((n) => n.outputs.includes('logits'))!;
    const slice = graph.nodes.find((n) => n.outputs.includes(head.inputs[0]!))!;
    expect(slice.opType).toBe('Slice');
    expect(graph.outputs.map((o) => o.name)).toEqual(
      readOnnxGraph(join(TINY_MODEL_DIR, DECODER)).outputs.map((o) => o.name),
    );
  });

  it('every decoder step returns logits of sequence length 1 (full: the whole prompt)', async () => {
    const on = await run(sliced, [0, 1]);
    const off = await run(full, [0, 1]);
    expect(on.logitsDims.length).toBeGreaterThan(1);
    for (const dims of on.logitsDims) expect(dims.slice(0, 2)).toEqual([2, 1]);
    // Without the rewrite the first step (the prompt) has one row per prompt position.
    expect(off.logitsDims[0]![1]).toBeGreaterThan(1);
    expect(on.logitsDims[0]![2]).toBe(off.logitsDims[0]![2]);
  });

  it.each(ref.cases.map((c) => [c.name, c] as const))(
    '%s: the same greedy tokens with and without the rewrite, equal to PyTorch',
    async (_name, c) => {
      const on = await run(sliced, c.images);
      const off = await run(full, c.images);
      expect(on.tokens).toEqual(off.tokens);
      expect(on.tokens).toEqual(c.newTokens);
    },
  );

  it('a batch of 8 gives each image the tokens it gets alone', async () => {
    const images = [0, 1, 2, 3, 3, 2, 1, 0];
    const batch = await run(sliced, images);
    for (const [row, image] of images.entries()) {
      expect(batch.tokens[row]).toEqual((await run(sliced, [image])).tokens[0]);
    }
  });

  it('the rewrite is made once and reused while the decoder file is unchanged', async () => {
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (m) => lines.push(m) };
    const own = await mkdtemp(join(tmpdir(), 'medcap-last-position-cache-'));
    try {
      const first = await lastPositionModelFolder(TINY_MODEL_DIR, DECODER, own, logger);
      const made = await stat(join(first, DECODER));
      const second = await lastPositionModelFolder(TINY_MODEL_DIR, DECODER, own, logger);
      expect(second).toBe(first);
      expect((await stat(join(second, DECODER))).mtimeMs).toBe(made.mtimeMs);
      expect(lines.filter((l) => l.includes('last position only'))).toHaveLength(1);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('a graph with no logits output is not rewritten, with the reason', () => {
    const graph = readOnnxGraph(join(TINY_MODEL_DIR, 'onnx', 'embed_tokens.onnx'));
    expect(planLastPositionLogits(graph)).toMatch(/no 'logits' output/);
  });
});

describe('last-position logits when the cache cannot be written', () => {
  it('loads the decoder as exported, with a warning naming it, and captions the same', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    const blocked = join(cacheDir, 'not-a-folder');
    await writeFile(blocked, 'a file where the cache folder would be');
    const loaded = await loadTransformersModel(
      TINY_MODEL_SETTINGS,
      { logger },
      { cacheDir: blocked, lastPositionLogits: true },
    );
    try {
      expect(warnings.join('\n')).toMatch(/decoder_model_merged\.onnx: no last-position copy/);
      const c = ref.cases[0]!;
      expect((await run(loaded, c.images)).tokens).toEqual(c.newTokens);
    } finally {
      await loaded.model.dispose();
    }
  });
});

describe('a last-position copy that does not load', () => {
  it('costs the optimisation, not the run: loaded as exported, with a warning', async () => {
    const own = await mkdtemp(join(tmpdir(), 'medcap-last-position-broken-'));
    try {
      const folder = await lastPositionModelFolder(TINY_MODEL_DIR, DECODER, own, silentLogger);
      await writeFile(join(folder, DECODER), 'not an onnx graph');
      const warnings: string[] = [];
      const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
      const loaded = await loadTransformersModel(
        TINY_MODEL_SETTINGS,
        { logger },
        { cacheDir: own, lastPositionLogits: true },
      );
      try {
        expect(warnings.join('\n')).toMatch(
          /the last-position decoder copy did not load on cpu \(.+\); loaded as exported/,
        );
        const c = ref.cases[0]!;
        const { tokens, logitsDims } = await run(loaded, c.images);
        expect(tokens).toEqual(c.newTokens);
        expect(logitsDims[0]![1]).toBeGreaterThan(1); // the graph as exported
      } finally {
        await loaded.model.dispose();
      }
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});

describe('last-position logits with external data (as the Hub fp16 decoder of 3 GB has)', () => {
  it('the rewritten decoder finds its weights and gives the same tokens', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medcap-last-position-external-'));
    try {
      const model = join(root, 'model');
      await cp(TINY_MODEL_DIR, model, { recursive: true });
      await rm(join(model, DECODER));
      const moved = await writeWithExternalData(
        join(TINY_MODEL_DIR, DECODER),
        join(model, 'onnx'),
        'decoder_model_merged.onnx',
        'decoder_model_merged.onnx_data',
      );
      expect(moved).toBeGreaterThan(10);
      expect(readOnnxGraph(join(model, DECODER)).externalData).toEqual([
        'decoder_model_merged.onnx_data',
      ]);
      const loaded = await loadTransformersModel(
        { ...TINY_MODEL_SETTINGS, model },
        { logger: silentLogger },
        { cacheDir: join(root, 'cache'), lastPositionLogits: true },
      );
      try {
        const c = ref.cases[0]!;
        const { tokens, logitsDims } = await run(loaded, c.images);
        expect(tokens).toEqual(c.newTokens);
        expect(logitsDims[0]![1]).toBe(1); // the rewritten graph ran
      } finally {
        await loaded.model.dispose();
      }
      const folder = await lastPositionModelFolder(
        model,
        DECODER,
        join(root, 'cache'),
        silentLogger,
      );
      const data = join(folder, 'onnx', 'decoder_model_merged.onnx_data');
      // a real file beside the decoder (ONNX Runtime refuses a link that leads out of its folder)
      expect((await lstat(data)).isSymbolicLink()).toBe(false);
      expect((await stat(data)).nlink).toBe(2);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

/** The tiny model with a decoder whose logits come out fp16 (as fp16 exports' do). */
async function tinyModelWithHalfLogits(folder: string): Promise<void> {
  await cp(TINY_MODEL_DIR, folder, { recursive: true });
  const graph = readOnnxGraph(join(TINY_MODEL_DIR, DECODER));
  const index = graph.nodes.findIndex((n) => n.outputs.includes('logits'));
  const producer = graph.layout.fields.find((f) => f.node === index)!;
  const output = graph.layout.fields.find(
    (f) => f.field === GRAPH_FIELDS.output && f.name === 'logits',
  )!;
  const replace = new Map([
    [producer, [withFirstRenamed(readGraphField(graph, producer), 2, 'logits_fp32')]],
    [output, [graphOutputField('logits', FLOAT16)]],
  ]);
  const cast = encodeNode('Cast', 'to_fp16', ['logits_fp32'], 'logits', FLOAT16);
  await writeEditedModel(
    graph,
    { replace, append: [lengthDelimited(GRAPH_FIELDS.node, cast)] },
    join(folder, DECODER),
  );
}

describe('last-position logits of an fp16 decoder', () => {
  it('come back fp32, cast in the graph, with the tokens of the graph as exported', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medcap-last-position-fp16-'));
    const model = join(root, 'model');
    await tinyModelWithHalfLogits(model);
    expect(
      readOnnxGraph(join(model, DECODER)).outputs.find((o) => o.name === 'logits')?.elemType,
    ).toBe(FLOAT16);
    const load = (lastPositionLogits: boolean) =>
      loadTransformersModel(
        { ...TINY_MODEL_SETTINGS, model },
        { logger: silentLogger },
        { cacheDir: join(root, 'cache'), lastPositionLogits },
      );
    const [rewritten, exported] = [await load(true), await load(false)];
    try {
      const folder = await lastPositionModelFolder(
        model,
        DECODER,
        join(root, 'cache'),
        silentLogger,
      );
      const graph = readOnnxGraph(join(folder, DECODER));
      expect(graph.outputs.find((o) => o.name === 'logits')?.elemType).toBe(FLOAT);
      const cast = graph.nodes.find((n) => n.outputs.includes('logits'))!;
      expect(cast.opType).toBe('Cast');
      const half = graph.nodes.find((n) => n.outputs.includes(cast.inputs[0]!))!;
      expect(half.name).toBe('to_fp16');
      for (const c of ref.cases) {
        const on = await run(rewritten, c.images);
        expect(on.logitsDims[0]![1]).toBe(1);
        expect(on.tokens).toEqual((await run(exported, c.images)).tokens);
      }
    } finally {
      await rewritten.model.dispose();
      await exported.model.dispose();
      await rm(root, { recursive: true, force: true });
    }
  });
});
