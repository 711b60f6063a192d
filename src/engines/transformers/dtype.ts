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
