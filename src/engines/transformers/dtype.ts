import { DTYPES } from '../../config/schema.js';
import { ConfigError } from '../../core/errors.js';

/** A precision Transformers.js knows (`auto` takes the model's own choice, else fp32). */
export type Dtype = (typeof DTYPES)[number];

/** The three ONNX graphs of a Qwen2-VL model folder. */
export const MODEL_FILES = Object.freeze([
  'vision_encoder',
  'embed_tokens',
  'decoder_model_merged',
] as const);
export type ModelFile = (typeof MODEL_FILES)[number];

/** One precision for every graph, or one per graph (what Transformers.js' `dtype` option takes). */
export type DtypeSetting = Dtype | Readonly<Record<ModelFile, Dtype>>;

/** Short names accepted on the command line for each graph. */
const FILE_NAMES: Readonly<Record<string, ModelFile>> = Object.freeze({
  vision: 'vision_encoder',
  vision_encoder: 'vision_encoder',
  embed: 'embed_tokens',
  embed_tokens: 'embed_tokens',
  decoder: 'decoder_model_merged',
  decoder_model_merged: 'decoder_model_merged',
});

function isDtype(value: string): value is Dtype {
  return (DTYPES as readonly string[]).includes(value);
}

/**
 * Parses `--dtype`: `q4f16`, or per graph `vision=fp16,decoder=q4f16` (graphs not named take
 * `auto`). Undefined means "not set" and is returned as undefined.
 */
export function parseDtype(text: string | undefined): DtypeSetting | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = text.trim();
  const allowed = DTYPES.join(', ');
  if (!value.includes('=')) {
    if (!isDtype(value)) {
      throw new ConfigError(`--dtype: unknown precision '${value}' (allowed: ${allowed})`);
    }
    return value;
  }
  const perFile: Record<ModelFile, Dtype> = {
    vision_encoder: 'auto',
    embed_tokens: 'auto',
    decoder_model_merged: 'auto',
  };
  const seen = new Set<ModelFile>();
  for (const part of value.split(',')) {
    const [rawName, rawDtype, ...rest] = part.split('=');
    const name = (rawName ?? '').trim();
    const dtype = (rawDtype ?? '').trim();
    const file = FILE_NAMES[name];
    if (!file || rest.length > 0) {
      throw new ConfigError(
        `--dtype: '${part}' is not GRAPH=PRECISION (graphs: vision, embed, decoder; e.g. vision=fp16,decoder=q4f16)`,
      );
    }
    if (!isDtype(dtype)) {
      throw new ConfigError(
        `--dtype: unknown precision '${dtype}' for ${name} (allowed: ${allowed})`,
      );
    }
    if (seen.has(file)) throw new ConfigError(`--dtype: ${name} is given twice`);
    seen.add(file);
    perFile[file] = dtype;
  }
  return Object.freeze(perFile);
}

/** For logs and reports: `fp32` or `vision_encoder=fp16,embed_tokens=auto,...`. */
export function describeDtype(setting: DtypeSetting | undefined): string {
  if (setting === undefined) return 'auto';
  if (typeof setting === 'string') return setting;
  return MODEL_FILES.map((file) => `${file}=${setting[file]}`).join(',');
}

/** A precision after `auto` is resolved. */
export type ConcreteDtype = Exclude<Dtype, 'auto'>;

/** The ONNX file-name suffix of each precision (Transformers.js' naming: `_quantized` is q8). */
export const DTYPE_SUFFIX: Readonly<Record<ConcreteDtype, string>> = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  bnb4: '_bnb4',
  q4f16: '_q4f16',
});

/** The part of a model's config.json that decides which ONNX files load. */
export interface TransformersJsConfig {
  /** The model's own precision: one for all graphs, or one per graph. */
  dtype?: string | Readonly<Record<string, string>>;
  /** Graphs whose weights sit in `<file>.onnx_data` (or that many chunks `_data_1`, ...). */
  use_external_data_format?: boolean | number | Readonly<Record<string, boolean | number>>;
}

function isConcrete(value: unknown): value is ConcreteDtype {
  return typeof value === 'string' && value !== 'auto' && value in DTYPE_SUFFIX;
}

/**
 * The precision one graph loads with, decided as Transformers.js decides it on cpu, webgpu
 * and cuda: the setting; for `auto` or no setting, the model's `transformers.js_config.dtype`;
 * else fp32.
 */
export function graphDtype(
  setting: DtypeSetting | undefined,
  file: ModelFile,
  config: TransformersJsConfig = {},
): ConcreteDtype {
  const asked = setting === undefined || typeof setting === 'string' ? setting : setting[file];
  if (isConcrete(asked)) return asked;
  const own = typeof config.dtype === 'string' ? config.dtype : config.dtype?.[file];
  return isConcrete(own) ? own : 'fp32';
}

function externalDataChunks(
  config: TransformersJsConfig,
  onnxName: string,
  file: ModelFile,
): number {
  const setting = config.use_external_data_format;
  if (setting === undefined || setting === false) return 0;
  if (typeof setting !== 'object') return Number(setting);
  return Number(setting[onnxName] ?? setting[file] ?? 0);
}

/**
 * The ONNX files (paths inside the model folder) that loading with `--dtype setting` reads:
 * per graph `onnx/<graph><suffix>.onnx`, plus its external-data chunks where config.json
 * says the weights are stored outside the graph.
 */
export function onnxFilesFor(
  setting: DtypeSetting | undefined,
  config: TransformersJsConfig = {},
): string[] {
  const files: string[] = [];
  for (const file of MODEL_FILES) {
    const name = `${file}${DTYPE_SUFFIX[graphDtype(setting, file, config)]}.onnx`;
    files.push(`onnx/${name}`);
    const chunks = externalDataChunks(config, name, file);
    for (let i = 0; i < chunks; i += 1) files.push(`onnx/${name}_data${i === 0 ? '' : `_${i}`}`);
  }
  return files;
}
