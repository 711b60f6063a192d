import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  AutoConfig,
  AutoModelForImageTextToText,
  AutoProcessor,
  env as transformersEnv,
} from '@huggingface/transformers';
import { ConfigError, describeError, EngineError } from '../../core/errors.js';
import { ProxyRefusedError } from '../../core/proxy.js';
import type { EngineDeps, EngineSettings } from '../types.js';
import { deviceHint, type EngineDevice, loadOnDevice } from './devices.js';
import {
  DTYPE_SUFFIX,
  type DtypeSetting,
  describeDtype,
  graphDtype,
  parseDtype,
  type TransformersJsConfig,
} from './dtype.js';
import { hubEndpoint, routeHubDownloads } from './hub-fetch.js';
import { lastPositionModelFolder } from './last-position.js';
import { defaultModelCacheDir, type ModelSource, resolveModelSource } from './model-source.js';
import { type PixelConfig, pixelConfigFrom } from './pixels.js';
import type { VlModel, VlProcessor, VlTokenizer } from './runtime.js';
import { runVisionPerImage } from './vision-runs.js';

/** Model families whose inputs this engine builds (Qwen2-VL's pixel and token layout). */
export const SUPPORTED_MODEL_TYPES = Object.freeze(['qwen2_vl', 'qwen2_5_vl'] as const);

/** The grid medcap's preprocessing produces (src/images): 14 px patches merged 2×2. */
const EXPECTED_PATCH = 14;
const EXPECTED_MERGE = 2;

export interface LoadedModel {
  model: VlModel;
  processor: VlProcessor;
  tokenizer: VlTokenizer;
  source: ModelSource;
  device: EngineDevice;
  dtype: DtypeSetting | undefined;
  modelType: string;
  pixelConfig: PixelConfig;
  imageTokenId: number;
  eosTokenIds: ReadonlySet<number>;
  /** Files read from the model folder, in the order Transformers.js finished them. */
  files: string[];
}

export interface LoadOptions {
  /** Base for a relative `--model` folder (default: the process's working directory). */
  cwd?: string;
  /** Download cache (default: defaultModelCacheDir()); also home of rewritten decoders. */
  cacheDir?: string;
  /**
   * Run the decoder's LM head on the last position only (a rewritten copy of the decoder
   * graph, see last-position.ts). Default: on, unless MEDCAP_FULL_LOGITS=1.
   */
  lastPositionLogits?: boolean;
  /**
   * Run the vision encoder once per image (vision-runs.ts). Default: on, unless
   * MEDCAP_VISION_PER_IMAGE=0.
   */
  visionPerImage?: boolean;
}

/** Whether the LM head runs on the last position only (LoadOptions.lastPositionLogits). */
export function wantsLastPositionLogits(
  options: LoadOptions,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return options.lastPositionLogits ?? env.MEDCAP_FULL_LOGITS !== '1';
}

function ids(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

/**
 * Records each file Transformers.js finishes reading (local or downloaded) and, for
 * downloads, logs the progress of large files (every 25 %), for first runs that fetch gigabytes.
 */
function fileProgress(
  logger: EngineDeps['logger'],
  files: string[],
  logDownloads: boolean,
): (info: unknown) => void {
  const reported = new Map<string, number>();
  return (info) => {
    const event = info as { status?: string; file?: string; loaded?: number; total?: number };
    if (event.status === 'done' && event.file && !files.includes(event.file)) {
      files.push(event.file);
    }
    if (!logDownloads) return;
    if (event.status !== 'progress' || !event.file || !event.total || event.total < 50e6) return;
    const quarter = Math.floor((4 * (event.loaded ?? 0)) / event.total);
    if (quarter <= (reported.get(event.file) ?? 0)) return;
    reported.set(event.file, quarter);
    logger.info(`${event.file}: ${quarter * 25}% of ${(event.total / 1e6).toFixed(0)} MB`);
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const MISSING_FILE = 'MODEL_FILE_MISSING';

/** A file name with a precision suffix (`onnx/decoder_model_merged_q4.onnx`, `..._fp16.onnx_data`). */
const DTYPE_FILE = /_(fp16|quantized|q4|q4f16|int8|uint8|bnb4)\.onnx(_data(_\d+)?)?$/;

/** What the user can do about a file missing from the folder medcap read the model from. */
function missingFileFix(source: ModelSource, offline: boolean): string {
  if (source.kind === 'folder') {
    return 'put that file into the folder, or pick a --dtype whose files it has';
  }
  if (offline) {
    return (
      'run once without --offline and HF_HUB_OFFLINE to download it (a missing file is fetched ' +
      'into the cache), or pick a --dtype whose files are in the cache'
    );
  }
  // Online, the Hub was asked already: its config.json did not name this file for download.
  return `download it from ${hubEndpoint()}/${source.id}/tree/main into ${source.cachedPath}`;
}

/** Network failures as Node's fetch reports them, with the reason it keeps in `cause`. */
function networkFailure(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.message !== 'fetch failed') return undefined;
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause ? `fetch failed: ${cause}` : 'fetch failed';
}

/**
 * Turns Transformers.js' loading failures into errors that name the model, the file and the
 * fix: a file missing from the folder read (code MODEL_FILE_MISSING, so that an incomplete
 * cached copy can be completed from the Hub), a file or model the Hub does not have or will
 * not give, and a Hub that cannot be reached.
 */
function loadError(model: string, error: unknown, source: ModelSource, offline: boolean): Error {
  if (error instanceof ConfigError || error instanceof EngineError) return error;
  const message = describeError(error);
  // Transformers.js' words for a file it did not find; ONNX Runtime's for a graph's weights file.
  const missing =
    /not found locally at "([^"]+)"|Local file missing at "([^"]+)"|External data path does not exist: "([^"]+)"/.exec(
      message,
    );
  if (missing) {
    const path = missing[1] ?? missing[2] ?? missing[3] ?? '';
    const what = /\.onnx_data(_\d+)?$/.test(path)
      ? `, the weights file of ${basename(path).replace(/_data(_\d+)?$/, '')}`
      : DTYPE_FILE.test(path)
        ? ', the weights of the --dtype asked'
        : '';
    return new ConfigError(
      `model ${model}: missing file ${path}${what}; ${missingFileFix(source, offline)}`,
      { code: MISSING_FILE, cause: error },
    );
  }
  const remote =
    /(Could not locate file|Unauthorized access to file|Forbidden access to file): "([^"]+)"/.exec(
      message,
    );
  if (remote) {
    const url = remote[2] ?? '';
    const file = url.replace(/^.*?\/resolve\/[^/]+\//, '');
    if (remote[1] !== 'Could not locate file') {
      return new ConfigError(
        `--model ${model}: the Hugging Face Hub refused ${url}: there is no such model, or it is ` +
          'gated or private (check the id; for a gated or private model set HF_TOKEN to a token that may read it)',
        { cause: error },
      );
    }
    if (file === 'config.json') {
      return new ConfigError(
        `--model ${model}: no such model on the Hugging Face Hub (${url} not found); check the id, ` +
          'or pass --model PATH to a local model folder',
        { cause: error },
      );
    }
    return new ConfigError(
      `model ${model}: the Hugging Face Hub has no ${file} for this model (${url})` +
        (DTYPE_FILE.test(file) || file.endsWith('.onnx')
          ? '; this --dtype is not published for it: pick one whose files are in its onnx/ folder'
          : ''),
      { cause: error },
    );
  }
  if (error instanceof ProxyRefusedError) {
    return new EngineError(
      `cannot download model ${model} from the Hugging Face Hub: ${error.message}`,
      { cause: error },
    );
  }
  const network = networkFailure(error);
  if (network) {
    return new EngineError(
      `cannot download model ${model} from the Hugging Face Hub (${network}): check the network ` +
        `connection, or copy the model folder into ${source.kind === 'hub' ? source.cachedPath : 'the model cache'} ` +
        'and run with --offline',
      { cause: error },
    );
  }
  return new EngineError(`cannot load model ${model}: ${message}`, { cause: error });
}

interface Attempt {
  /** A folder path, or a Hub id. */
  target: string;
  pretrained: Record<string, unknown>;
}

interface Loaded {
  config: Record<string, unknown>;
  processor: VlProcessor;
  tokenizer: VlTokenizer;
  pixelConfig: PixelConfig;
  model: VlModel;
  device: EngineDevice;
}

/**
 * Loads the processor (tokenizer, chat template, image settings) and the three ONNX graphs,
 * on the requested device, or for `auto` on the first of CUDA / WebGPU / CPU that works.
 * A Hub model already in the download cache is read from there as a plain folder, with no
 * network request; an incomplete cached copy is completed from the Hub when online.
 */
export async function loadTransformersModel(
  settings: EngineSettings,
  deps: EngineDeps,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const logger = deps.logger;
  const started = performance.now();
  const dtype = parseDtype(settings.dtype);
  const cacheDir = options.cacheDir ?? defaultModelCacheDir();
  const lastPosition = wantsLastPositionLogits(options) ? cacheDir : undefined;
  const source = await resolveModelSource(settings.model, {
    offline: settings.offline,
    cacheDir,
    cwd: options.cwd ?? process.cwd(),
  });
  const files: string[] = [];
  const local = { local_files_only: true, progress_callback: fileProgress(logger, files, false) };
  const attempts: Attempt[] = [];
  if (source.kind === 'folder') {
    attempts.push({ target: source.path, pretrained: local });
  } else {
    const cached = await exists(join(source.cachedPath, 'config.json'));
    if (cached) attempts.push({ target: source.cachedPath, pretrained: local });
    if (!settings.offline) {
      routeHubDownloads(transformersEnv, logger);
      attempts.push({
        target: source.id,
        pretrained: {
          local_files_only: false,
          cache_dir: source.cacheDir,
          progress_callback: fileProgress(logger, files, true),
        },
      });
    }
    if (!cached && !settings.offline) {
      logger.info(`downloading ${source.id} into ${source.cachedPath} (first use)`);
    }
  }

  let loaded: Loaded | undefined;
  for (const [i, attempt] of attempts.entries()) {
    try {
      loaded = await loadFrom(attempt, settings, dtype, logger, lastPosition, source);
      break;
    } catch (error) {
      const retry = i + 1 < attempts.length && isMissingFile(error);
      if (!retry) throw error;
      logger.info(
        `the cached copy of ${settings.model} is incomplete (${describeError(error)}); downloading what is missing`,
      );
    }
  }
  if (!loaded) throw new ConfigError(`model ${settings.model}: nothing to load`);
  const { config, processor, tokenizer, pixelConfig, model, device } = loaded;

  const textConfig = (config.text_config ?? {}) as Record<string, unknown>;
  const imageTokenId = [config.image_token_id, textConfig.image_token_id].find(
    (v): v is number => typeof v === 'number',
  );
  if (imageTokenId === undefined) {
    await model.dispose();
    throw new ConfigError(`model ${settings.model}: config.json has no image_token_id`);
  }
  const eosTokenIds = new Set<number>([
    ...ids(model.generation_config?.eos_token_id),
    ...ids(config.eos_token_id),
    ...ids(textConfig.eos_token_id),
  ]);
  const vision = (model as { sessions?: Record<string, Parameters<typeof runVisionPerImage>[0]> })
    .sessions?.vision_encoder;
  if (vision && (options.visionPerImage ?? process.env.MEDCAP_VISION_PER_IMAGE !== '0')) {
    runVisionPerImage(vision);
  }
  const modelType = String(config.model_type);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  logger.info(
    `model ${settings.model} (${modelType}) on ${device}, dtype ${describeDtype(dtype)}, ` +
      `loaded in ${seconds} s from ${source.kind === 'folder' ? source.path : source.cachedPath}`,
  );
  logger.info(
    `model files: ${files.filter((f) => f.endsWith('.onnx') || f.includes('.onnx_data')).join(', ')}`,
  );
  return {
    model,
    processor,
    tokenizer,
    source,
    device,
    dtype,
    modelType,
    pixelConfig,
    imageTokenId,
    eosTokenIds,
    files,
  };
}

function isMissingFile(error: unknown): boolean {
  return error instanceof ConfigError && error.code === MISSING_FILE;
}

async function loadFrom(
  { target, pretrained }: Attempt,
  settings: EngineSettings,
  dtype: DtypeSetting | undefined,
  logger: EngineDeps['logger'],
  /** The cache for a last-position decoder copy; undefined: load the decoder as it is. */
  lastPositionCache: string | undefined,
  source: ModelSource,
): Promise<Loaded> {
  let config: Record<string, unknown>;
  try {
    config = (await AutoConfig.from_pretrained(target, pretrained)) as unknown as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw loadError(settings.model, error, source, settings.offline);
  }
  const modelType = String(config.model_type ?? '');
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(
      `--model ${settings.model}: model type '${modelType}' is not supported by --engine transformers ` +
        `(supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  let processor: VlProcessor;
  try {
    processor = (await AutoProcessor.from_pretrained(target, pretrained)) as unknown as VlProcessor;
  } catch (error) {
    throw loadError(settings.model, error, source, settings.offline);
  }
  const tokenizer = processor.tokenizer;
  if (!tokenizer) throw new ConfigError(`model ${settings.model}: no tokenizer in the model files`);
  const pixelConfig = pixelConfigFrom(processor.image_processor?.config);
  if (pixelConfig.patchSize !== EXPECTED_PATCH || pixelConfig.mergeSize !== EXPECTED_MERGE) {
    throw new ConfigError(
      `model ${settings.model}: patch ${pixelConfig.patchSize} px merged ${pixelConfig.mergeSize}x${pixelConfig.mergeSize} ` +
        `is not the Qwen2-VL grid (${EXPECTED_PATCH} px, 2x2) that medcap's preprocessing makes`,
    );
  }

  let modelTarget = target;
  if (lastPositionCache !== undefined && pretrained.local_files_only === true) {
    const jsConfig = (config['transformers.js_config'] ?? {}) as TransformersJsConfig;
    const suffix = DTYPE_SUFFIX[graphDtype(dtype, 'decoder_model_merged', jsConfig)];
    const decoder = `onnx/decoder_model_merged${suffix}.onnx`;
    try {
      modelTarget = await lastPositionModelFolder(target, decoder, lastPositionCache, logger);
    } catch (error) {
      // A read-only cache or an unreadable graph costs the optimisation, not the run.
      logger.warn(
        `${join(target, decoder)}: no last-position copy (${describeError(error).split('\n')[0]}); loading it as exported`,
      );
    }
  }
  const { value: model, device } = await loadOnDevice(
    settings.device,
    async (candidate) => {
      const load = async (folder: string) =>
        (await AutoModelForImageTextToText.from_pretrained(folder, {
          ...pretrained,
          config: config as never,
          device: candidate,
          ...(dtype === undefined ? {} : { dtype: dtype as never }),
          session_options: { logSeverityLevel: 3 },
        })) as unknown as VlModel;
      try {
        return await load(modelTarget);
      } catch (error) {
        if (modelTarget === target) throw error;
        // The rewritten copy costs the optimisation, not the run: if the model as exported
        // loads, say why the copy did not; if it fails too, its own error is the one to show.
        const model = await load(target);
        logger.warn(
          `${target}: the last-position decoder copy did not load on ${candidate} (${describeError(error).split('\n')[0]?.replaceAll(modelTarget, '<copy>')}); loaded as exported`,
        );
        return model;
      }
    },
    {
      fatal: (error) => {
        // A missing file, an unreachable Hub or a proxy that refuses is not the device's
        // fault: no other device is tried.
        const mapped = loadError(settings.model, error, source, settings.offline);
        return mapped instanceof ConfigError ||
          networkFailure(error) ||
          error instanceof ProxyRefusedError
          ? mapped
          : undefined;
      },
      onSkip: (candidate, error, next) =>
        logger.warn(
          `--device auto: ${candidate} is not usable here (${describeError(error).split('\n')[0]}); trying ${next}`,
        ),
      onFailure: (candidate, error) => {
        const hint = deviceHint(candidate);
        return new ConfigError(
          `--device ${settings.device}: cannot run model ${settings.model} on ${candidate}: ` +
            `${describeError(error).split('\n')[0]}${hint ? `. ${hint}` : ''}`,
          { cause: error },
        );
      },
    },
  );
  return { config, processor, tokenizer, pixelConfig, model, device };
}
