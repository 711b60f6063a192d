import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeError, MetricError } from '../../core/errors.js';
import { temporarySibling } from '../../core/files.js';
import type { Logger } from '../../core/logger.js';
import {
  type DeviceChoice,
  deviceHint,
  type EngineDevice,
  loadOnDevice,
} from '../../engines/transformers/devices.js';
import { routeHubDownloads } from '../../engines/transformers/hub-fetch.js';
import { placeExternalData } from '../../formats/onnx/external-data.js';
import {
  type OnnxGraph,
  readOnnxGraph,
  unitRowsTensor,
  writePrunedModel,
} from '../../formats/onnx/graph.js';
import { LOWERED_MATMUL_MARK } from '../../formats/onnx/half-precision.js';
import { defaultLayerFor, locateHiddenState } from './hidden-layer.js';
import { findOnnxFile, resolveModelFolder } from './model-source.js';
import { planBatches } from './plan.js';
import { type Embedded, unitRows } from './scoring.js';
import { sentenceEncoder } from './sentence-ids.js';
import { type EncoderSession, loadSession, loadSessionHere } from './session.js';
import { encodeSentences } from './tokenize-pool.js';

/**
 * The BERTScore encoder: a BERT-family model run through Transformers.js (ONNX Runtime) that
 * turns sentences into token ids the way bert_score's sent_encode does, and token ids into
 * unit-length contextual embeddings of one hidden layer.
 */

export type BertScoreDtype = 'auto' | 'fp32' | 'fp16' | 'q8';
/** What the encoder's matrix products run in (BertScoreDtype with `auto` resolved). */
export type BertScorePrecision = 'fp32' | 'fp16' | 'q8';

/**
 * Sentences per forward pass unless told: bert_score's 64 on the CPU; 256 on a GPU, where
 * 64 left the H100 idle between runs (11% less wall time at 256, the same values; see
 * docs/PERFORMANCE.md).
 */
export const DEFAULT_BATCH_SIZE: Readonly<Record<EngineDevice, number>> = Object.freeze({
  cpu: 64,
  webgpu: 256,
  cuda: 256,
});

export interface EncoderOptions {
  model: string;
  /** bert_score's num_layers; undefined: its default for known models, else the last layer. */
  layer?: number;
  offline: boolean;
  /** Model cache (Hub downloads) and home of pruned copies. */
  cacheDir: string;
  cwd: string;
  /** Where the encoder runs; `auto` as the embedded engine resolves it. */
  device: DeviceChoice;
  /**
   * Precision of the matrix products: `auto` is fp16 on a GPU (webgpu, cuda) and fp32 on the
   * CPU; `q8` is 8-bit weights in blocks of 32 with fp16 activations (block-quantized.ts).
   * @default 'fp32', as bert_score computes
   */
  dtype?: BertScoreDtype;
  /** Sentences per forward pass. @default DEFAULT_BATCH_SIZE[the device it runs on] */
  batchSize?: number;
  /** Most tokens (padding included) per forward pass. */
  maxBatchTokens: number;
  /**
   * Run the session on a worker thread (session.ts). @default true on a GPU, where it keeps the
   * device busy while this thread matches; on the CPU the session's own threads already take
   * every core.
   */
  sessionThread?: boolean;
  logger: Logger;
}

export interface Encoder {
  /** Model folder the encoder reads. */
  readonly folder: string;
  /** The device it runs on (`auto` resolved). */
  readonly device: EngineDevice;
  /** Precision of its matrix products (`auto` resolved). */
  readonly dtype: BertScorePrecision;
  readonly layer: number;
  readonly numLayers: number;
  /** Sentences per forward pass (EncoderOptions.batchSize resolved). */
  readonly batchSize: number;
  readonly clsId: number;
  readonly sepId: number;
  /** Longest token sequence, special tokens included; longer sentences are truncated. */
  readonly maxLength: number;
  /** bert_score's sent_encode. */
  encode(sentence: string): number[];
  /** encode() of each sentence, in order; many sentences are split over worker threads. */
  encodeAll(sentences: readonly string[]): Promise<number[][]>;
  /**
   * Embeddings of several token sequences, batched (padded, masked), in input order. Stops
   * between batches once `signal` is aborted.
   */
  embed(sequences: readonly (readonly number[])[], signal?: AbortSignal): Promise<Embedded[]>;
  /** Whether its session runs on a worker thread. */
  readonly sessionThread: boolean;
  /** What embed() has run so far: forward passes, their tokens, and those with padding. */
  readonly passes: { count: number; tokens: number; padded: number };
  dispose(): Promise<void>;
}

/** How the log names the matrix weights of each reduced precision. */
const WEIGHTS_IN: Readonly<Record<Exclude<BertScorePrecision, 'fp32'>, string>> = Object.freeze({
  fp16: 'fp16 weights',
  q8: '8-bit weights in blocks of 32, fp16 activations',
});

/** Batches given to the encoder session before the first of them is read. */
const BATCHES_AHEAD = 3;

/** Tokenizers that bert_score gives a prefix space (its RobertaTokenizer/GPT2Tokenizer case). */
const PREFIX_SPACE_TOKENIZERS = new Set([
  'RobertaTokenizer',
  'GPT2Tokenizer',
  'LongformerTokenizer',
]);
const PREFIX_SPACE_MODEL_TYPES = new Set(['roberta', 'gpt2', 'longformer']);
/** Models whose position ids start after the padding index (max length = positions - pad - 1). */
const PADDING_OFFSET_MODEL_TYPES = new Set(['roberta', 'xlm-roberta', 'camembert', 'longformer']);

interface ModelConfig {
  model_type?: string;
  num_hidden_layers?: number;
  n_layers?: number;
  num_layers?: number;
  max_position_embeddings?: number;
  pad_token_id?: number;
  _name_or_path?: string;
}

type TransformersModule = typeof import('@huggingface/transformers');
type Tokenizer = Awaited<ReturnType<TransformersModule['AutoTokenizer']['from_pretrained']>>;

async function transformers(): Promise<TransformersModule> {
  return import('@huggingface/transformers');
}

/**
 * Downloads a Hub model (config, tokenizer, fp32 ONNX) into `cacheDir` with Transformers.js,
 * through the proxy the environment names (routeHubDownloads).
 */
export async function downloadWithTransformers(
  id: string,
  cacheDir: string,
  logger: Logger,
): Promise<void> {
  const tf = await transformers();
  routeHubDownloads(tf.env, logger);
  await tf.AutoConfig.from_pretrained(id, { cache_dir: cacheDir });
  await tf.AutoTokenizer.from_pretrained(id, { cache_dir: cacheDir });
  let firstError: unknown;
  for (const subfolder of ['onnx', '']) {
    try {
      const model = await tf.AutoModel.from_pretrained(id, {
        cache_dir: cacheDir,
        dtype: 'fp32',
        device: 'cpu',
        subfolder,
      });
      await model.dispose();
      return;
    } catch (error) {
      firstError ??= error;
    }
  }
  throw firstError;
}

function tokenId(tokenizer: Tokenizer, token: unknown): number | undefined {
  const text =
    typeof token === 'string'
      ? token
      : token && typeof token === 'object' && 'content' in token
        ? String((token as { content: unknown }).content)
        : undefined;
  if (text === undefined) return undefined;
  const id = tokenizer.convert_tokens_to_ids(text) as unknown;
  return typeof id === 'number' ? id : undefined;
}

function numLayersOf(config: ModelConfig, folder: string): number {
  const n = config.num_hidden_layers ?? config.n_layers ?? config.num_layers;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new MetricError(`BERTScore model ${folder}: config.json gives no num_hidden_layers`);
  }
  return n;
}

/**
 * A copy of the model that stops at the wanted hidden state, kept under
 * `<cacheDir>/.medcap-derived/bertscore/`; made once, reused while the source file is unchanged.
 */
async function prunedModelFolder(
  folder: string,
  graph: OnnxGraph,
  tensor: string,
  layer: number,
  cacheDir: string,
  logger: Logger,
  precision: BertScorePrecision,
): Promise<string> {
  const source = await realpath(graph.path);
  const info = await stat(source);
  const key = createHash('sha256')
    // v3 for models with external data: their v2 copies linked the data symbolically, which
    // ONNX Runtime refuses, so those copies are made again.
    .update(
      JSON.stringify([
        graph.externalData.length > 0 ? 'v3' : 'v2',
        source,
        info.size,
        info.mtimeMs,
        tensor,
        precision,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  const suffix = precision === 'fp32' ? '' : `-${precision}`;
  const name = `${basename(folder).replace(/[^\w.-]/g, '_')}-layer${layer}${suffix}-${key}`;
  const target = join(cacheDir, '.medcap-derived', 'bertscore', name);
  if (!(await stat(join(target, 'onnx', 'model.onnx')).catch(() => undefined))) {
    await writePrunedCopy(folder, graph, source, tensor, layer, target, logger, precision);
  }
  if (precision !== 'fp32' && !hasLoweredMatMuls(join(target, 'onnx', 'model.onnx'))) {
    logger.warn(
      `BERTScore: none of ${graph.path}'s matrix weights could be written in ${precision} ` +
        '(they are kept in external data, or are not float32): its matrix products run as exported',
    );
  }
  return target;
}

/** Whether a pruned copy holds any MatMul whose weight went to fp16 or 8 bits. */
function hasLoweredMatMuls(path: string): boolean {
  return readOnnxGraph(path).nodes.some((node) => node.name.endsWith(LOWERED_MATMUL_MARK));
}

async function writePrunedCopy(
  folder: string,
  graph: OnnxGraph,
  /** graph.path with its links resolved. */
  source: string,
  tensor: string,
  layer: number,
  target: string,
  logger: Logger,
  precision: BertScorePrecision,
): Promise<void> {
  logger.info(
    `BERTScore: writing a copy of ${graph.path} that stops at hidden layer ${layer}` +
      `${precision === 'fp32' ? '' : `, with ${WEIGHTS_IN[precision]},`} (once)`,
  );
  const building = temporarySibling(target);
  try {
    await mkdir(join(building, 'onnx'), { recursive: true });
    await copyFile(join(folder, 'config.json'), join(building, 'config.json'));
    const elemType = graph.outputs[0]?.elemType ?? 1;
    await writePrunedModel(graph, tensor, elemType, join(building, 'onnx', 'model.onnx'), {
      matMulWeights: precision === 'fp32' ? undefined : precision,
      unitRows: true,
    });
    await placeExternalData(graph, source, join(building, 'onnx'), logger, 'the pruned copy');
    await rename(building, target).catch(async (error) => {
      // another process made it meanwhile: use theirs
      if (await stat(join(target, 'onnx', 'model.onnx')).catch(() => undefined)) return;
      throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

export async function loadEncoder(options: EncoderOptions): Promise<Encoder> {
  const { logger } = options;
  const folder = await resolveModelFolder(options.model, {
    offline: options.offline,
    cacheDir: options.cacheDir,
    cwd: options.cwd,
    logger,
    download: (id, cacheDir) => downloadWithTransformers(id, cacheDir, logger),
  });
  const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as ModelConfig;
  const numLayers = numLayersOf(config, folder);
  const defaultLayer = defaultLayerFor([options.model, config._name_or_path]);
  const layer = options.layer ?? defaultLayer ?? numLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer > numLayers) {
    throw new MetricError(
      `BERTScore layer ${layer} is out of range: ${options.model} has layers 0..${numLayers} ` +
        '(0 = the embedding layer)',
    );
  }

  const onnx = await findOnnxFile(folder);
  if (!onnx) throw new MetricError(`BERTScore model folder ${folder} has no onnx/model.onnx`);
  let graph: OnnxGraph;
  try {
    graph = readOnnxGraph(onnx.path);
  } catch (error) {
    throw new MetricError(`BERTScore model ${onnx.path} could not be read: ${String(error)}`, {
      cause: error,
    });
  }
  let location: ReturnType<typeof locateHiddenState>;
  try {
    location = locateHiddenState(graph, layer, numLayers);
  } catch (error) {
    throw new MetricError(
      `BERTScore: ${error instanceof Error ? error.message : String(error)}. Pass ` +
        `--bertscore-layer ${numLayers} with an export that outputs last_hidden_state, or use an ` +
        'export made by Optimum / torch.onnx (TorchScript) whose node names show the layers.',
      { cause: error },
    );
  }
  /**
   * fp32 with the hidden state as an output already: the model as exported. Otherwise a copy
   * (pruned, fp16 or 8-bit MatMul weights as `precision` says) that also scales each token
   * vector to unit length, on the
   * device: in JavaScript, on the thread that waits for the device, that was 10% of the time.
   */
  const asExported = (precision: BertScorePrecision) =>
    location.isGraphOutput && precision === 'fp32';
  const modelFor = async (
    precision: BertScorePrecision,
  ): Promise<{ folder: string; subfolder: string }> =>
    asExported(precision)
      ? { folder, subfolder: onnx.subfolder }
      : {
          folder: await prunedModelFolder(
            folder,
            graph,
            location.tensor,
            layer,
            options.cacheDir,
            logger,
            precision,
          ),
          subfolder: 'onnx',
        };

  const tf = await transformers();
  let tokenizer: Tokenizer;
  try {
    tokenizer = await tf.AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  } catch (error) {
    throw new MetricError(
      `BERTScore model ${options.model} (${folder}): its tokenizer could not be loaded: ${String(error)}`,
      { cause: error },
    );
  }
  /** The output read: the unit vectors of the pruned copy, or the exported hidden state. */
  const outputFor = (precision: BertScorePrecision) =>
    asExported(precision) ? location.tensor : unitRowsTensor(location.tensor);
  const loadOn = async (candidate: EngineDevice, precision: BertScorePrecision) => {
    const { folder: at, subfolder } = await modelFor(precision);
    const spec = {
      folder: at,
      subfolder,
      device: candidate,
      externalData: graph.externalData.length > 0,
      output: outputFor(precision),
    };
    if (!(options.sessionThread ?? candidate !== 'cpu')) return loadSessionHere(spec);
    return loadSession(spec, (reason) =>
      logger.warn(
        `BERTScore: the encoder runs on the main thread (its own thread could not load it: ${describeError(reason).split('\n')[0]})`,
      ),
    );
  };
  const dtype = options.dtype ?? 'fp32';
  const {
    value: { session, precision },
    device,
  } = await loadOnDevice(
    options.device,
    async (candidate): Promise<{ session: EncoderSession; precision: BertScorePrecision }> => {
      if (dtype !== 'auto') return { session: await loadOn(candidate, dtype), precision: dtype };
      if (candidate === 'cpu')
        return { session: await loadOn(candidate, 'fp32'), precision: 'fp32' };
      try {
        return { session: await loadOn(candidate, 'fp16'), precision: 'fp16' };
      } catch (error) {
        logger.warn(
          `BERTScore: fp16 is not usable on ${candidate} (${describeError(error).split('\n')[0]}); using fp32`,
        );
        return { session: await loadOn(candidate, 'fp32'), precision: 'fp32' };
      }
    },
    {
      onSkip: (candidate, error, next) =>
        logger.warn(
          `--bertscore-device auto: ${candidate} is not usable here (${describeError(error).split('\n')[0]}); trying ${next}`,
        ),
      onFailure: (candidate, error) => {
        const hint = deviceHint(candidate);
        return new MetricError(
          `--bertscore-device ${options.device}: cannot run BERTScore model ${options.model} ` +
            `(${folder}) on ${candidate}: ${describeError(error).split('\n')[0]}${hint ? `. ${hint}` : ''}`,
          { cause: error },
        );
      },
    },
  );

  const tokenizerConfig = (tokenizer.config ?? {}) as Record<string, unknown>;
  const tokenizerClass = String(tokenizerConfig.tokenizer_class ?? '').replace(/Fast$/, '');
  const prefixSpace = tokenizerClass
    ? PREFIX_SPACE_TOKENIZERS.has(tokenizerClass)
    : PREFIX_SPACE_MODEL_TYPES.has(config.model_type ?? '');
  const empty = tokenizer.encode('', { add_special_tokens: true });
  const clsId = tokenId(tokenizer, tokenizerConfig.cls_token) ?? empty[0];
  const sepId = tokenizer.sep_token_id ?? empty[empty.length - 1];
  const padId = tokenizer.pad_token_id ?? config.pad_token_id ?? 0;
  if (clsId === undefined || sepId === undefined) {
    throw new MetricError(`BERTScore model ${folder}: its tokenizer has no [CLS]/[SEP] tokens`);
  }
  const positions = config.max_position_embeddings ?? Number.POSITIVE_INFINITY;
  const positionLimit = PADDING_OFFSET_MODEL_TYPES.has(config.model_type ?? '')
    ? positions - padId - 1
    : positions;
  const declared = tokenizer.model_max_length;
  const maxLength = Math.min(
    Number.isFinite(declared) && declared > 0 && declared < 1e7 ? declared : positionLimit,
    positionLimit,
  );
  if (!Number.isFinite(maxLength)) {
    throw new MetricError(`BERTScore model ${folder}: no maximum sequence length is known`);
  }

  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE[device];
  logger.info(
    `BERTScore: ${options.model}, hidden layer ${layer} of ${numLayers}` +
      (options.layer === undefined && defaultLayer !== undefined ? " (bert_score's default)" : '') +
      `, sequences up to ${maxLength} tokens in batches of ${batchSize}, on ${device}` +
      (precision === 'fp32' ? ' (fp32)' : ` (matrix products with ${WEIGHTS_IN[precision]})`),
  );
  const unitInGraph = !asExported(precision);
  if (precision !== 'fp32') {
    // Measured on an H100 through WebGPU (docs/PERFORMANCE.md): fp16 up to 1.2e-2 in F1
    // (bench/results/bertscore-2026-12-06-b.json); q8 as the table there says.
    logger.warn(
      `BERTScore in ${precision}: values differ from bert_score's fp32 ones by up to about 1e-2; ` +
        'use --bertscore-dtype fp32 for numbers to publish',
    );
  }

  const settings = { prefixSpace, maxLength };
  const encode = sentenceEncoder(tokenizer, settings);

  const passes = { count: 0, tokens: 0, padded: 0 };
  const embed = async (
    sequences: readonly (readonly number[])[],
    signal?: AbortSignal,
  ): Promise<Embedded[]> => {
    const out: Embedded[] = new Array(sequences.length);
    const order = sequences
      .map((_, i) => i)
      .sort((a, b) => sequences[b]!.length - sequences[a]!.length);
    const ends = planBatches(
      order.map((i) => sequences[i]!.length),
      { maxSequences: batchSize, maxTokens: options.maxBatchTokens },
    );
    const batchAt = (b: number) => {
      const start = b === 0 ? 0 : ends[b - 1]!;
      const members = order.slice(start, ends[b]);
      const tokens = sequences[members[0]!]!.length;
      const ids = new BigInt64Array(members.length * tokens).fill(BigInt(padId));
      const mask = new BigInt64Array(members.length * tokens);
      members.forEach((index, row) => {
        const seq = sequences[index]!;
        for (let t = 0; t < seq.length; t++) {
          ids[row * tokens + t] = BigInt(seq[t]!);
          mask[row * tokens + t] = 1n;
        }
      });
      passes.count++;
      passes.padded += members.length * tokens;
      for (const index of members) passes.tokens += sequences[index]!.length;
      return { members, batch: { ids, mask, rows: members.length, tokens } };
    };
    // Batches are handed to the session a few ahead of the one being read, so that the
    // session (on its own thread) has the next one when it finishes one. A batch that fails is
    // reported by its own await; the ones queued behind it are dropped.
    const queued: ReturnType<typeof start>[] = [];
    const start = (b: number) => {
      const made = batchAt(b);
      const result = session.run(made.batch);
      result.catch(() => undefined);
      return { ...made, result };
    };
    for (let b = 0; b < ends.length; b++) {
      while (queued.length < BATCHES_AHEAD && b + queued.length < ends.length) {
        queued.push(start(b + queued.length));
      }
      const { members, batch, result } = queued.shift()!;
      signal?.throwIfAborted();
      const { data, dims } = await result;
      const dim = dims[2]!;
      members.forEach((index, row) => {
        const seq = sequences[index]!;
        const start = row * batch.tokens * dim;
        out[index] = {
          ids: seq,
          dim,
          vectors: unitInGraph
            ? data.subarray(start, start + seq.length * dim)
            : unitRows(data, start, seq.length, dim),
        };
      });
    }
    return out;
  };

  return {
    folder,
    device,
    dtype: precision,
    layer,
    numLayers,
    batchSize,
    clsId,
    sepId,
    maxLength,
    encode,
    encodeAll: (sentences) =>
      encodeSentences(sentences, encode, {
        folder,
        settings,
        onWorkerError: (error) =>
          logger.warn(
            `BERTScore: a tokenizer thread failed (${describeError(error).split('\n')[0]}); its sentences are tokenized on the main thread`,
          ),
      }),
    embed,
    passes,
    sessionThread: session.threaded,
    dispose: async () => {
      await session.dispose();
    },
  };
}
