import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, MetricError } from '../../core/errors.js';
import { expandHome } from '../../core/home-path.js';
import { cannotBeHubId } from '../../core/hub-id.js';
import { inputPathError } from '../../core/input-path.js';
import type { Logger } from '../../core/logger.js';

/** Hub ids as the Hub writes them: `name` or `owner/name`. */
const HUB_ID = /^[\w-][\w.-]*(\/[\w-][\w.-]*)?$/;

/**
 * Where downloaded models live: `MEDCAP_MODEL_CACHE`, else `$XDG_CACHE_HOME/medcap/models`,
 * else `~/.cache/medcap/models`. Model `owner/name` is the folder `<cache>/owner/name/` in the
 * Hub's layout, so a folder copied there works offline.
 */
export function defaultModelCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEDCAP_MODEL_CACHE) return resolve(expandHome(env.MEDCAP_MODEL_CACHE));
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
 * The folder `model` names when it is a local one (checked to hold a model), or undefined
 * for a Hugging Face Hub id. A path that is not there, is a file, or is a folder without the
 * model files is a ConfigError naming it (exit 1). Reads nothing from the network, so a
 * command can check it before long work.
 */
export async function localModelFolder(model: string, cwd: string): Promise<string | undefined> {
  const asPath = resolve(cwd, expandHome(model));
  if (await exists(asPath, 'dir')) {
    const missing = await missingFiles(asPath);
    if (missing.length > 0) {
      throw inputPathError(
        '--bertscore-model',
        asPath,
        `the folder lacks ${missing.join(', ')}; a model folder holds ` +
          'config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (the Transformers.js layout)',
      );
    }
    return asPath;
  }
  if (cannotBeHubId(model) || !HUB_ID.test(model)) {
    throw inputPathError(
      '--bertscore-model',
      asPath,
      (await exists(asPath, 'file'))
        ? 'is a file, not a model folder'
        : `no such folder (and '${model}' is not a Hugging Face model id)`,
    );
  }
  return undefined;
}

/**
 * The local folder that holds the BERTScore model: the folder itself when `model` is a path
 * (see localModelFolder), else the Hub id's folder in the cache, downloaded first unless
 * offline. A Hub model not cached offline is a ConfigError (exit 1), a failed download a
 * MetricError; each names the model and the folder it looked in.
 */
export async function resolveModelFolder(model: string, options: ResolveOptions): Promise<string> {
  const local = await localModelFolder(model, options.cwd);
  if (local !== undefined) return local;
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
