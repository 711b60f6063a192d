import { IMAGE_ENCODINGS } from '../engines/types.js';
import type { PathKind } from './paths.js';
import { allowedText, type ValueSchema, type ValueType, valueSchema } from './values.js';

/**
 * Every option, once: its flag, its config-file key (camelCase), its environment variable
 * (MEDCAP_ + SCREAMING_SNAKE of the key), its type and default. The CLI declares its flags
 * from this table and `loadConfig` resolves flag > env > file > default against it.
 */

export const DEVICES = Object.freeze(['cpu', 'webgpu', 'cuda', 'auto'] as const);
export const DTYPES = Object.freeze([
  'auto',
  'fp32',
  'fp16',
  'q8',
  'int8',
  'uint8',
  'q4',
  'bnb4',
  'q4f16',
] as const);
export const BERTSCORE_DTYPES = Object.freeze(['auto', 'fp32', 'fp16', 'q8'] as const);
export const FORMATS = Object.freeze([
  'auto',
  'rocov2',
  'roco',
  'manifest',
  'parquet',
  'folder',
  'dicom',
] as const);
export const ENGINES = Object.freeze(['transformers', 'openai'] as const);
export const METRIC_IDS = Object.freeze(['bleu', 'rouge', 'meteor', 'cider', 'bertscore'] as const);
export const TOKENIZERS = Object.freeze(['coco', 'whitespace'] as const);

export interface OptionDefinition {
  /** camelCase config key. */
  key: string;
  /** Commander flag syntax, e.g. `--batch-size <n>`. */
  flag: string;
  description: string;
  /** What values the option takes: its validator and its "allowed" text come from this. */
  type: ValueType;
  default?: unknown;
  /** Repeatable flag (collects into an array). */
  repeatable?: boolean;
  /**
   * The value names a file or folder: relative to the config file's folder when it comes from
   * the config file (see config/paths.ts).
   */
  path?: PathKind;
  /** Shown in help instead of `default` where a command chooses the value itself. */
  defaultNote?: string;
}

export interface OptionSpec extends OptionDefinition {
  schema: ValueSchema;
  /** Shown in help and in errors: what values are allowed. */
  allowed: string;
}

function option(definition: OptionDefinition): OptionSpec {
  return {
    ...definition,
    schema: valueSchema(definition.type),
    allowed: allowedText(definition.type),
  };
}

/** Whole numbers from 1 (or 0) up. */
const positive = (max?: number): ValueType =>
  max === undefined ? { kind: 'integer', min: 1 } : { kind: 'integer', min: 1, max };
const nonNegative = (max?: number): ValueType =>
  max === undefined ? { kind: 'integer', min: 0 } : { kind: 'integer', min: 0, max };
const BOOLEAN: ValueType = { kind: 'boolean' };
const TEXT: ValueType = { kind: 'text' };

/**
 * Qwen2-VL's processor allows at most 12,845,056 pixels (3584 x 3584) by default; a larger
 * image is a mistake, and its tokens would not fit a batch anyway.
 */
const QWEN2VL_MAX_PIXELS = 3584 * 3584;

const DEFAULT_PROMPT =
  'Describe this medical image in one concise sentence, as a radiology figure caption: the imaging modality, the body region and the main finding.';

export const COMMON_OPTIONS: OptionSpec[] = [
  option({
    key: 'config',
    flag: '--config <file>',
    description:
      'config file (default: ./medcap.config.json if present); relative paths in it are relative to its folder',
    type: TEXT,
  }),
  option({
    key: 'out',
    flag: '--out <dir>',
    description: 'output folder',
    type: TEXT,
    default: 'results_medical',
    path: 'path',
  }),
  option({
    key: 'split',
    flag: '--split <name>',
    description: 'dataset split',
    type: {
      kind: 'text',
      pattern: /^[\w.-]+$/,
      like: 'a split name such as train, valid or test (letters, digits, _ . -)',
    },
    default: 'train',
  }),
  option({
    key: 'logFormat',
    flag: '--log-format <format>',
    description: 'log lines on stderr',
    type: { kind: 'choice', values: ['text', 'json'] },
    default: 'text',
  }),
  option({
    key: 'quiet',
    flag: '--quiet',
    description: 'only warnings and errors on stderr',
    type: BOOLEAN,
    default: false,
  }),
];

/** --offline: captioning's model and evaluate's BERTScore model are the downloads. */
export const OFFLINE_OPTION: OptionSpec = option({
  key: 'offline',
  flag: '--offline',
  description: 'never download (also HF_HUB_OFFLINE=1)',
  type: BOOLEAN,
  default: false,
});

export const CAPTION_OPTIONS: OptionSpec[] = [
  option({
    key: 'data',
    flag: '--data <path>',
    description: 'dataset folder or manifest file',
    type: TEXT,
    path: 'path',
  }),
  option({
    key: 'format',
    flag: '--format <format>',
    description: 'dataset layout',
    type: { kind: 'choice', values: FORMATS },
    default: 'auto',
  }),
  option({
    key: 'limit',
    flag: '--limit <n>',
    description: 'caption the first N items (0 or "all": every item)',
    type: {
      kind: 'integer',
      min: 0,
      words: { all: Number.POSITIVE_INFINITY },
      zero: Number.POSITIVE_INFINITY,
    },
    default: 1000,
  }),
  option({
    key: 'engine',
    flag: '--engine <id>',
    description: 'captioning engine',
    type: { kind: 'choice', values: ENGINES },
    default: 'transformers',
  }),
  option({
    key: 'model',
    flag: '--model <id-or-path>',
    description: 'model id or local folder',
    type: TEXT,
    default: 'onnx-community/Qwen2-VL-2B-Instruct',
    path: 'model',
  }),
  option({
    key: 'device',
    flag: '--device <device>',
    description: 'where the embedded model runs',
    type: { kind: 'choice', values: DEVICES },
    default: 'cpu',
  }),
  option({
    key: 'dtype',
    flag: '--dtype <dtype>',
    description: 'weights precision; per file as vision=fp16,decoder=q4f16',
    type: { kind: 'dtype', values: DTYPES },
  }),
  OFFLINE_OPTION,
  option({
    key: 'batchSize',
    flag: '--batch-size <n>',
    description: 'images per generate call, or auto (halve on out-of-memory)',
    type: { kind: 'integer', min: 1, max: 4096, words: { auto: 'auto' } },
    default: 8,
  }),
  option({
    key: 'maxNewTokens',
    flag: '--max-new-tokens <n>',
    description: 'longest caption in tokens',
    type: positive(32_768),
    default: 128,
  }),
  option({
    key: 'prompt',
    flag: '--prompt <text>',
    description: 'instruction sent with each image (@FILE reads it from a file)',
    type: TEXT,
    default: DEFAULT_PROMPT,
    path: 'prompt',
  }),
  option({
    key: 'imageSize',
    flag: '--image-size <px>',
    description: 'resize every image to PX x PX (rounded to a multiple of 28)',
    type: positive(3584),
  }),
  option({
    key: 'minPixels',
    flag: '--min-pixels <n>',
    description: 'Qwen2-VL min_pixels',
    type: positive(QWEN2VL_MAX_PIXELS),
    default: 56 * 56,
  }),
  option({
    key: 'maxPixels',
    flag: '--max-pixels <n>',
    description: 'Qwen2-VL max_pixels',
    type: positive(QWEN2VL_MAX_PIXELS),
    default: 448 * 448,
  }),
  option({
    key: 'cache',
    flag: '--cache',
    description: 'keep preprocessed images in memory (--no-cache streams)',
    type: BOOLEAN,
    default: true,
  }),
  option({
    key: 'cacheMemory',
    flag: '--cache-memory <size>',
    description: 'memory budget of the preprocessing cache',
    type: { kind: 'size' },
    default: '9GB',
  }),
  option({
    key: 'memoryLimit',
    flag: '--memory-limit <size>',
    description:
      'cap for the cache plus the prefetch queue (default: half the RAM, or of the cgroup limit when lower)',
    type: { kind: 'size', positive: true },
  }),
  option({
    key: 'prefetch',
    flag: '--prefetch <n>',
    description: 'images preprocessed ahead of the engine',
    type: positive(65_536),
    default: 32,
  }),
  option({
    key: 'checkpointEvery',
    flag: '--checkpoint-every <n>',
    description: 'write checkpoint_{n}.csv every N images (0: never)',
    type: nonNegative(),
    default: 100,
  }),
  option({
    key: 'keepCheckpoints',
    flag: '--keep-checkpoints <n>',
    description: 'keep the newest N checkpoint files (0: all)',
    type: nonNegative(),
    default: 3,
  }),
  option({
    key: 'batchTimeout',
    flag: '--batch-timeout <s>',
    description:
      'seconds one batch may spend in the embedded engine before the run stops as hung (0: no limit)',
    type: nonNegative(604_800),
    default: 1800,
  }),
  option({
    key: 'overwrite',
    flag: '--overwrite',
    description: 'start again in an --out that already holds a journal',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'resume',
    flag: '--resume',
    description: 'continue from the journal in --out',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'retryFailed',
    flag: '--retry-failed',
    description: 'with --resume: caption again the images whose journal line is an error',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'shard',
    flag: '--shard <i/n>',
    description: 'caption shard I of N (stable by image id)',
    type: { kind: 'shard' },
  }),
  option({
    key: 'window',
    flag: '--window <c,w>',
    description: 'DICOM VOI window center,width',
    type: { kind: 'window' },
  }),
  option({
    key: 'frame',
    flag: '--frame <n>',
    description: 'frame of a multi-frame DICOM image: a number from 1, or first, middle, last',
    type: { kind: 'integer', min: 1, words: { first: 'first', middle: 'middle', last: 'last' } },
    default: 'middle',
  }),
  option({
    key: 'endpoint',
    flag: '--endpoint <url>',
    description: 'OpenAI-compatible server (repeat for several)',
    type: { kind: 'urls' },
    repeatable: true,
    default: [],
  }),
  option({
    key: 'concurrency',
    flag: '--concurrency <n>',
    description: 'requests in flight (openai engine)',
    type: positive(1024),
    default: 8,
  }),
  option({
    key: 'timeout',
    flag: '--timeout <s>',
    description: 'request timeout in seconds',
    type: { kind: 'number', above: 0, max: 86_400, unit: 'seconds' },
    default: 120,
  }),
  option({
    key: 'retries',
    flag: '--retries <n>',
    description: 'retries on 429/5xx/network errors (the default 8 wait 60-121 s in all)',
    type: nonNegative(100),
    default: 8,
  }),
  option({
    key: 'imageEncoding',
    flag: '--image-encoding <how>',
    description:
      'how images travel to the server: auto (the file itself when preprocessing would not change it, else PNG), png (lossless), jpeg (quality 95)',
    type: { kind: 'choice', values: IMAGE_ENCODINGS },
    default: 'auto',
  }),
];

export const EVALUATE_OPTIONS: OptionSpec[] = [
  option({
    key: 'captions',
    flag: '--captions <file>',
    description: 'captions CSV or JSONL to score',
    type: TEXT,
    path: 'path',
  }),
  option({
    key: 'metrics',
    flag: '--metrics <list>',
    description: 'metrics to compute',
    type: { kind: 'choices', values: METRIC_IDS },
    default: ['bleu', 'rouge', 'meteor', 'cider'],
  }),
  option({
    key: 'bertscore',
    flag: '--bertscore',
    description: 'add BERTScore to --metrics',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'tokenizer',
    flag: '--tokenizer <id>',
    description: 'tokenizer for BLEU/ROUGE-L/METEOR/CIDEr',
    type: { kind: 'choice', values: TOKENIZERS },
    default: 'coco',
  }),
  option({
    key: 'bootstrap',
    flag: '--bootstrap <n>',
    description: 'bootstrap resamples for 95% confidence intervals (0: none)',
    type: nonNegative(1_000_000),
    default: 1000,
  }),
  option({
    key: 'bertscoreModel',
    flag: '--bertscore-model <id-or-path>',
    description: 'BERTScore model',
    type: TEXT,
    default: 'FacebookAI/roberta-large',
    path: 'model',
  }),
  option({
    key: 'bertscoreLayer',
    flag: '--bertscore-layer <n>',
    description:
      'hidden layer BERTScore matches (0 = embeddings; default: the layer bert_score tuned for known models, e.g. 17 for roberta-large, else the last)',
    type: nonNegative(128),
  }),
  option({
    key: 'bertscoreDevice',
    flag: '--bertscore-device <device>',
    description: 'where the BERTScore encoder runs (auto: cuda, webgpu, then cpu, as --device)',
    type: { kind: 'choice', values: DEVICES },
    default: 'cpu',
  }),
  option({
    key: 'bertscoreDtype',
    flag: '--bertscore-dtype <dtype>',
    description:
      "BERTScore matrix products: fp32 (bert_score's own), fp16, q8 (8-bit weights, fp16 activations; fastest on a GPU), or auto (fp16 on webgpu/cuda, fp32 on cpu)",
    type: { kind: 'choice', values: BERTSCORE_DTYPES },
    default: 'fp32',
  }),
  option({
    key: 'bertscoreBatchSize',
    flag: '--bertscore-batch-size <n>',
    description:
      "sentences per BERTScore encoder batch (bert_score's batch_size; also capped by tokens per batch; default 64 on the CPU, 256 on a GPU)",
    type: positive(4096),
  }),
  option({
    key: 'bertscoreIdf',
    flag: '--bertscore-idf',
    description: 'idf weighting from the references',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'bertscoreBaseline',
    flag: '--bertscore-baseline <file>',
    description:
      'rescale BERTScore with a bert_score baseline file (rescale_baseline/{lang}/{model}.tsv: LAYER,P,R,F), as its rescale_with_baseline',
    type: TEXT,
    path: 'path',
  }),
  option({
    key: 'rougeStemmer',
    flag: '--rouge-stemmer',
    description: 'Porter stemming in ROUGE-1/2',
    type: BOOLEAN,
    default: false,
  }),
  option({
    key: 'seed',
    flag: '--seed <n>',
    description: 'seed for bootstrap and randomization tests',
    type: nonNegative(4_294_967_295),
    default: 12345,
  }),
];

/** The key's environment variable: batchSize → MEDCAP_BATCH_SIZE. */
export function envName(key: string): string {
  return `MEDCAP_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** `--batch-size <n>` → `--batch-size`. */
export function flagName(spec: OptionSpec): string {
  return spec.flag.split(' ')[0]!;
}

export const ALL_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...CAPTION_OPTIONS,
  ...EVALUATE_OPTIONS,
];

/**
 * MEDCAP_* environment variables that are not options (secrets and machine paths, read where
 * they are used). Any other MEDCAP_* name that is not an option's variable is refused, so a
 * typo such as MEDCAP_BATCHSIZE cannot pass unnoticed.
 */
export const OTHER_ENV_VARS = Object.freeze([
  'MEDCAP_API_KEY',
  'MEDCAP_MODEL_CACHE',
  // 1: the transformers engine loads the decoder as exported (logits for every position)
  'MEDCAP_FULL_LOGITS',
  // 1: the transformers engine logs where generation time went (session-timing.ts)
  'MEDCAP_PROFILE',
  // 0: the transformers engine sends a batch's images to the vision encoder in one run
  'MEDCAP_VISION_PER_IMAGE',
]);
