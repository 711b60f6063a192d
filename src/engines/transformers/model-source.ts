import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { expandHome } from '../../core/home-path.js';
import { cannotBeHubId } from '../../core/hub-id.js';
import { inputPathError } from '../../core/input-path.js';

/** Where the model comes from: a local folder, or a Hugging Face Hub id (downloaded and cached). */
export type ModelSource =
  | { kind: 'folder'; path: string }
  | { kind: 'hub'; id: string; cacheDir: string; cachedPath: string };

/** Hub ids as the Hub writes them: `name` or `owner/name`. */
const HUB_ID = /^[\w.-]+(\/[\w.-]+)?$/;

/**
 * Folder where downloaded models are kept: `MEDCAP_MODEL_CACHE`, else
 * `$XDG_CACHE_HOME/medcap/models`, else `~/.cache/medcap/models`. A model `owner/name` lives in
 * `<cache>/owner/name/` with the Hub's file layout, so a folder copied there works offline.
 */
export function defaultModelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEDCAP_MODEL_CACHE) return resolve(expandHome(env.MEDCAP_MODEL_CACHE));
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'medcap', 'models');
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  offline: boolean;
  cacheDir: string;
  /** Base for relative folder paths. */
  cwd: string;
}

/**
 * Decides whether `--model` names a local folder or a Hub id. A folder must exist and hold
 * `config.json`. Offline, a Hub id must already be in the cache; otherwise this throws one
 * ConfigError that names the model and the folder it looked in.
 */
export async function resolveModelSource(
  model: string,
  options: ResolveOptions,
): Promise<ModelSource> {
  const asPath = resolve(options.cwd, expandHome(model));
  if (await isDirectory(asPath)) {
    if (!(await isFile(join(asPath, 'config.json')))) {
      throw inputPathError(
        '--model',
        asPath,
        'the folder has no config.json; a model folder holds config.json, ' +
          'tokenizer and preprocessor files and onnx/*.onnx (the Transformers.js layout)',
      );
    }
    return { kind: 'folder', path: asPath };
  }
  if (cannotBeHubId(model) || !HUB_ID.test(model)) {
    throw inputPathError(
      '--model',
      asPath,
      (await isFile(asPath))
        ? 'is a file, not a model folder'
        : `no such folder (and '${model}' is not a Hugging Face model id)`,
    );
  }
  const cachedPath = join(options.cacheDir, ...model.split('/'));
  if (options.offline && !(await isFile(join(cachedPath, 'config.json')))) {
    throw new ConfigError(
      `model ${model} is not available offline (--offline or HF_HUB_OFFLINE=1): ` +
        `looked in ${cachedPath} and found no config.json. Run once with network access to ` +
        'download it, copy the model folder there, or pass --model PATH to a local model folder.',
    );
  }
  return { kind: 'hub', id: model, cacheDir: options.cacheDir, cachedPath };
}
