import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError, MetricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/** Hub ids as the Hub writes them: `name` or `owner/name`. */
const HUB_ID = /^[\w-][\w.-]*(\/[\w-][\w.-]*)?$/;

/**
 * Where downloaded models live: `MEDCAP_MODEL_CACHE`, else `$XDG_CACHE_HOME/medcap/models`,
 * else `~/.cache/medcap/models`. Model `owner/name` is the folder `<cache>/owner/name/` in the
 * Hub's layout, so a folder copied there works offline.
 */
export function defaultModelCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEDCAP_MODEL_CACHE) return resolve(env.MEDCAP_MODEL_CACHE);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'medcap', 'models');
}

/** `offline` as given, or HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set to a true value. */
export function isOffline(offline: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const truthy = (v: string | undefined) =>
    v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
  return offline || truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE);
}

async function exists(path: string, kind: 'file' | 'dir'): Promise<boolean> {
  try {
    const s = await stat(path);
    return kind === 'file' ? s.isFile() : s.isDirectory();
  } catch {
    return false;
  }
}

/** The ONNX file of a model folder: `onnx/model.onnx` (Transformers.js layout) or `model.onnx`. */
export async function findOnnxFile(
  folder: string,
): Promise<{ path: string; subfolder: string } | undefined> {
  for (const subfolder of ['onnx', '']) {
    const path = join(folder, subfolder, 'model.onnx');
    if (await exists(path, 'file')) return { path, subfolder };
  }
  return undefined;
}

const NEEDED = ['config.json', 'tokenizer.json'] as const;

/** Files a BERTScore model folder lacks (config.json, tokenizer.json, the ONNX model). */
export async function missingFiles(folder: string): Promise<string[]> {
  const missing: string[] = [];
  for (const file of NEEDED) if (!(await exists(join(folder, file), 'file'))) missing.push(file);
  if (!(await findOnnxFile(folder))) missing.push('onnx/model.onnx');
  return missing;
}

export interface ResolveOptions {
  offline: boolean;
  cacheDir: string;
  cwd: string;
  logger: Logger;
  /** Downloads a Hub model into cacheDir (injected: Transformers.js in the product). */
  download: (id: string, cacheDir: string) => Promise<void>;
}

/**
 * The local folder that holds the BERTScore model: the folder itself when `model` is a path,
 * else the Hub id's folder in the cache, downloaded first unless offline. Throws one
 * MetricError that names the model and the folder it looked in.
 */
export async function resolveModelFolder(model: string, options: ResolveOptions): Promise<string> {
  const expanded = model.startsWith('~/') ? join(homedir(), model.slice(2)) : model;
  const asPath = resolve(options.cwd, expanded);
  if (await exists(asPath, 'dir')) {
    const missing = await missingFiles(asPath);
    if (missing.length > 0) {
      throw new MetricError(
        `BERTScore model folder ${asPath} lacks ${missing.join(', ')}; a model folder holds ` +
          'config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (the Transformers.js layout)',
      );
    }
    return asPath;
  }
  const looksLikePath =
    model.startsWith('.') || model.startsWith('~') || isAbsolute(model) || model.includes('\\');
  if (looksLikePath || !HUB_ID.test(model)) {
    throw new MetricError(
      `BERTScore model folder ${asPath} does not exist (and '${model}' is not a Hugging Face model id)`,
    );
  }
  const cached = join(options.cacheDir, ...model.split('/'));
  if ((await missingFiles(cached)).length === 0) return cached;
  if (options.offline) {
    // A configuration problem (exit 1), as for the captioning model.
    throw new ConfigError(
      `BERTScore model ${model} is not available offline (--offline or HF_HUB_OFFLINE=1): looked in ` +
        `${cached} and found no complete model there (config.json, tokenizer.json, onnx/model.onnx). ` +
        'Run once with network access to download it, copy the model folder there, or pass ' +
        '--bertscore-model PATH to a local model folder.',
    );
  }
  options.logger.info(`BERTScore: downloading ${model} into ${cached}`);
  try {
    await options.download(model, options.cacheDir);
  } catch (error) {
    // A proxy variable that cannot be used names itself (exit 1, as for the captioning model).
    if (error instanceof ConfigError) throw error;
    throw new MetricError(
      `BERTScore model ${model} could not be downloaded from the Hugging Face Hub into ${cached}: ` +
        downloadFailure(error),
      { cause: error },
    );
  }
  const missing = await missingFiles(cached);
  if (missing.length > 0) {
    throw new MetricError(
      `BERTScore model ${model}: after the download, ${cached} still lacks ${missing.join(', ')}`,
    );
  }
  return cached;
}

/** The failure's message; for a network failure ('fetch failed') with the reason it keeps in `cause`. */
function downloadFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message !== 'fetch failed' || !(error instanceof Error) || !(error.cause instanceof Error)) {
    return message;
  }
  return `fetch failed: ${error.cause.message}`;
}
