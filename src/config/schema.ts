import { z } from 'zod';
import { IMAGE_ENCODINGS } from '../engines/types.js';
import { parseSize } from './size.js';

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

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const bool = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(v), {
      message: 'expected true or false',
    })
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
]);
const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size such as 9GB or 512MB, got '${value}'`,
    });
    return z.NEVER;
  }
  return bytes;
});
const list = z.union([
  z.array(z.string()),
  z.string().transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
]);
const batchSize = z.union([
  z.literal('auto'),
  positiveInt.refine((n) => n <= 4096, { message: 'expected at most 4096' }),
]);
const limit = z.union([
  z.literal('all').transform(() => Number.POSITIVE_INFINITY),
  nonNegativeInt.transform((n) => (n === 0 ? Number.POSITIVE_INFINITY : n)),
]);
const shard = z.string().transform((value, ctx) => {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = match ? Number(match[1]) : Number.NaN;
  const count = match ? Number(match[2]) : Number.NaN;
  if (!match || count < 1 || index < 0 || index >= count) {
    ctx.addIssue({
      code: 'custom',
      message: `expected I/N with 0 <= I < N (e.g. 0/4), got '${value}'`,
    });
    return z.NEVER;
  }
  return { index, count };
});
const windowSpec = z.string().transform((value, ctx) => {
  const parts = value.split(',').map(Number);
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n)) || parts[1]! <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected CENTER,WIDTH (e.g. 40,400), got '${value}'`,
    });
    return z.NEVER;
  }
  return [parts[0]!, parts[1]!] as [number, number];
});

export interface OptionSpec {
  /** camelCase config key. */
  key: string;
  /** Commander flag syntax, e.g. `--batch-size <n>`. */
  flag: string;
  description: string;
  schema: z.ZodType;
  default?: unknown;
  /** Shown in help and in errors: what values are allowed. */
  allowed?: string;
  /** Repeatable flag (collects into an array). */
  repeatable?: boolean;
}

const DEFAULT_PROMPT =
  'Describe this medical image in one concise sentence, as a radiology figure caption: the imaging modality, the body region and the main finding.';

export const COMMON_OPTIONS: OptionSpec[] = [
  {
    key: 'config',
    flag: '--config <file>',
    description: 'config file (default: ./medcap.config.json if present)',
    schema: z.string(),
  },
  {
    key: 'out',
    flag: '--out <dir>',
    description: 'output folder',
    schema: z.string().min(1),
    default: 'results_medical',
  },
  {
    key: 'split',
    flag: '--split <name>',
    description: 'dataset split',
    schema: z.string().regex(/^[\w.-]+$/, 'expected a split name such as train, valid or test'),
    default: 'train',
  },
  {
    key: 'logFormat',
    flag: '--log-format <format>',
    description: 'log lines on stderr',
    schema: z.enum(['text', 'json']),
    default: 'text',
    allowed: 'text, json',
  },
  {
    key: 'quiet',
    flag: '--quiet',
    description: 'only warnings and errors on stderr',
    schema: bool,
    default: false,
  },
];

export const CAPTION_OPTIONS: OptionSpec[] = [
  {
    key: 'data',
    flag: '--data <path>',
    description: 'dataset folder or manifest file',
    schema: z.string().min(1),
  },
  {
    key: 'format',
    flag: '--format <format>',
    description: 'dataset layout',
    schema: z.enum(FORMATS),
    default: 'auto',
    allowed: FORMATS.join(', '),
  },
  {
    key: 'limit',
    flag: '--limit <n>',
    description: 'caption the first N items (0 or "all": every item)',
    schema: limit,
    default: 1000,
    allowed: 'a whole number, or all',
  },
  {
    key: 'engine',
    flag: '--engine <id>',
    description: 'captioning engine',
    schema: z.enum(ENGINES),
    default: 'transformers',
    allowed: ENGINES.join(', '),
  },
  {
    key: 'model',
    flag: '--model <id-or-path>',
    description: 'model id or local folder',
    schema: z.string().min(1),
    default: 'onnx-community/Qwen2-VL-2B-Instruct',
  },
  {
    key: 'device',
    flag: '--device <device>',
    description: 'where the embedded model runs',
    schema: z.enum(DEVICES),
    default: 'cpu',
    allowed: DEVICES.join(', '),
  },
  {
    key: 'dtype',
    flag: '--dtype <dtype>',
    description: 'weights precision; per file as vision=fp16,decoder=q4f16',
    schema: z.string().regex(/^[\w=,]+$/),
    allowed: DTYPES.join(', '),
  },
  {
    key: 'offline',
    flag: '--offline',
    description: 'never download (also HF_HUB_OFFLINE=1)',
    schema: bool,
    default: false,
  },
  {
    key: 'batchSize',
    flag: '--batch-size <n>',
    description: 'images per generate call, or auto (halve on out-of-memory)',
    schema: batchSize,
    default: 8,
    allowed: 'a whole number 1..4096, or auto',
  },
  {
    key: 'maxNewTokens',
    flag: '--max-new-tokens <n>',
    description: 'longest caption in tokens',
    schema: positiveInt,
    default: 128,
  },
  {
    key: 'prompt',
    flag: '--prompt <text>',
    description: 'instruction sent with each image (@FILE reads it from a file)',
    schema: z.string().min(1),
    default: DEFAULT_PROMPT,
  },
  {
    key: 'imageSize',
    flag: '--image-size <px>',
    description: 'resize every image to PX x PX (rounded to a multiple of 28)',
    schema: positiveInt,
  },
  {
    key: 'minPixels',
    flag: '--min-pixels <n>',
    description: 'Qwen2-VL min_pixels',
    schema: positiveInt,
    default: 56 * 56,
  },
  {
    key: 'maxPixels',
    flag: '--max-pixels <n>',
    description: 'Qwen2-VL max_pixels',
    schema: positiveInt,
    default: 448 * 448,
  },
  {
    key: 'cache',
    flag: '--cache',
    description: 'keep preprocessed images in memory (--no-cache streams)',
    schema: bool,
    default: true,
  },
  {
    key: 'cacheMemory',
    flag: '--cache-memory <size>',
    description: 'memory budget of the preprocessing cache',
    schema: size,
    default: '9GB',
  },
  {
    key: 'memoryLimit',
    flag: '--memory-limit <size>',
    description: 'cap for the cache plus the prefetch queue',
    schema: size,
  },
  {
    key: 'prefetch',
    flag: '--prefetch <n>',
    description: 'images preprocessed ahead of the engine',
    schema: positiveInt,
    default: 32,
  },
  {
    key: 'checkpointEvery',
    flag: '--checkpoint-every <n>',
    description: 'write checkpoint_{n}.csv every N images (0: never)',
    schema: nonNegativeInt,
    default: 100,
  },
  {
    key: 'keepCheckpoints',
    flag: '--keep-checkpoints <n>',
    description: 'keep the newest N checkpoint files (0: all)',
    schema: nonNegativeInt,
    default: 3,
  },
  {
    key: 'overwrite',
    flag: '--overwrite',
    description: 'start again in an --out that already holds a journal',
    schema: bool,
    default: false,
  },
  {
    key: 'resume',
    flag: '--resume',
    description: 'continue from the journal in --out',
    schema: bool,
    default: false,
  },
  {
    key: 'shard',
    flag: '--shard <i/n>',
    description: 'caption shard I of N (stable by image id)',
    schema: shard,
    allowed: 'I/N with 0 <= I < N',
  },
  {
    key: 'window',
    flag: '--window <c,w>',
    description: 'DICOM VOI window center,width',
    schema: windowSpec,
  },
  {
    key: 'endpoint',
    flag: '--endpoint <url>',
    description: 'OpenAI-compatible server (repeat for several)',
    schema: list,
    repeatable: true,
    default: [],
  },
  {
    key: 'concurrency',
    flag: '--concurrency <n>',
    description: 'requests in flight (openai engine)',
    schema: positiveInt,
    default: 8,
  },
  {
    key: 'timeout',
    flag: '--timeout <s>',
    description: 'request timeout in seconds',
    schema: z.coerce.number().positive(),
    default: 120,
  },
  {
    key: 'retries',
    flag: '--retries <n>',
    description: 'retries on 429/5xx/network errors (the default 8 wait 60-121 s in all)',
    schema: nonNegativeInt,
    default: 8,
  },
  {
    key: 'imageEncoding',
    flag: '--image-encoding <how>',
    description:
      'how images travel to the server: auto (the file itself when preprocessing would not change it, else PNG), png (lossless), jpeg (quality 95)',
    schema: z.enum(IMAGE_ENCODINGS),
    default: 'auto',
    allowed: IMAGE_ENCODINGS.join(', '),
  },
];

export const EVALUATE_OPTIONS: OptionSpec[] = [
  {
    key: 'captions',
    flag: '--captions <file>',
    description: 'captions CSV or JSONL to score',
    schema: z.string().min(1),
  },
  {
    key: 'metrics',
    flag: '--metrics <list>',
    description: 'metrics to compute',
    schema: list.pipe(z.array(z.enum(METRIC_IDS)).min(1)),
    default: ['bleu', 'rouge', 'meteor', 'cider'],
    allowed: METRIC_IDS.join(','),
  },
  {
    key: 'bertscore',
    flag: '--bertscore',
    description: 'add BERTScore to --metrics',
    schema: bool,
    default: false,
  },
  {
    key: 'tokenizer',
    flag: '--tokenizer <id>',
    description: 'tokenizer for BLEU/ROUGE-L/METEOR/CIDEr',
    schema: z.enum(TOKENIZERS),
    default: 'coco',
    allowed: TOKENIZERS.join(', '),
  },
  {
    key: 'bootstrap',
    flag: '--bootstrap <n>',
    description: 'bootstrap resamples for 95% confidence intervals (0: none)',
    schema: nonNegativeInt,
    default: 1000,
  },
  {
    key: 'bertscoreModel',
    flag: '--bertscore-model <id-or-path>',
    description: 'BERTScore model',
    schema: z.string().min(1),
    default: 'Xenova/roberta-large',
  },
  {
    key: 'bertscoreLayer',
    flag: '--bertscore-layer <n>',
    description:
      'hidden layer BERTScore matches (0 = embeddings; default: the layer bert_score tuned for known models, e.g. 17 for roberta-large, else the last)',
    schema: nonNegativeInt,
  },
  {
    key: 'bertscoreIdf',
    flag: '--bertscore-idf',
    description: 'idf weighting from the references',
    schema: bool,
    default: false,
  },
  {
    key: 'rougeStemmer',
    flag: '--rouge-stemmer',
    description: 'Porter stemming in ROUGE-1/2',
    schema: bool,
    default: false,
  },
  {
    key: 'seed',
    flag: '--seed <n>',
    description: 'seed for bootstrap and randomization tests',
    schema: nonNegativeInt,
    default: 12345,
  },
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
