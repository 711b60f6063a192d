import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CaptionToolError, ConfigError } from '../core/errors.js';
import { checkSettingsFileSync } from '../core/input-path.js';
import { decodeUtf8 } from '../core/utf8.js';
import { resolvePathValue } from './paths.js';
import { ALL_OPTIONS, envName, flagName, type OptionSpec, OTHER_ENV_VARS } from './schema.js';
import { didYouMean } from './suggest.js';

export const CONFIG_FILE = 'medcap.config.json';
const DEFAULT_SOURCE = 'the default';

export interface LoadConfigInput {
  specs: readonly OptionSpec[];
  /** Values given on the command line, keyed by camelCase option key. */
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Filled with the keys set by a flag, the environment or the config file (not defaulted). */
  given?: Set<string>;
}

/** Keys the config file may hold: every command's options (one file serves them all). */
const FILE_KEYS = new Set(ALL_OPTIONS.filter((s) => s.key !== 'config').map((s) => s.key));
const ENV_NAMES = new Set([...ALL_OPTIONS.map((s) => envName(s.key)), ...OTHER_ENV_VARS]);

/**
 * Resolves every option as flag > environment > config file > default, validates each one,
 * and throws one ConfigError listing every problem (each naming its flag, its source and
 * what is allowed) before anything runs. Unknown config-file keys and unknown MEDCAP_*
 * environment variables are problems too; the options of other commands are not (one
 * config file and one environment serve every command). A relative path in the config file
 * (an option the table marks `path`) is made absolute against the file's folder; one from a
 * flag or a variable is left as given, for the command to take from its working directory.
 */
export function loadConfig(input: LoadConfigInput): Record<string, unknown> {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const file = readConfigFile(input.flags.config ?? env[envName('config')], cwd);
  const problems: string[] = [...unknownNames(file, env)];

  const config: Record<string, unknown> = {};
  for (const spec of input.specs) {
    const [raw, source, fromFile] = pick(spec, input.flags, env, file);
    if (raw === undefined) continue;
    if (source !== DEFAULT_SOURCE) input.given?.add(spec.key);
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) {
      config[spec.key] =
        fromFile && spec.path && typeof parsed.data === 'string'
          ? resolvePathValue(spec.path, parsed.data, dirname(file.path))
          : parsed.data;
    } else {
      const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
      problems.push(
        `${flagName(spec)} from ${source}: ${reason}; got ${JSON.stringify(raw)} (allowed: ${spec.allowed})`,
      );
    }
  }
  problems.push(...crossChecks(config));
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

function unknownNames(
  file: { path: string; values: Record<string, unknown> },
  env: NodeJS.ProcessEnv,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(file.values)) {
    if (key === '$schema' || FILE_KEYS.has(key)) continue;
    const reason =
      key === 'config' ? 'a config file cannot name another one' : 'not a medcap option';
    problems.push(`${file.path}: unknown key '${key}': ${reason}${didYouMean(key, FILE_KEYS)}`);
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith('MEDCAP_') || ENV_NAMES.has(name)) continue;
    problems.push(
      `environment variable ${name}: not a medcap setting${didYouMean(name, ENV_NAMES)}; unset it or fix its name`,
    );
  }
  return problems;
}

/** Problems no single option shows. */
function crossChecks(config: Record<string, unknown>): string[] {
  const { minPixels, maxPixels } = config;
  if (typeof minPixels === 'number' && typeof maxPixels === 'number' && minPixels > maxPixels) {
    return [`--min-pixels (${minPixels}) is larger than --max-pixels (${maxPixels})`];
  }
  return [];
}

function pick(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: { path: string; values: Record<string, unknown> },
): [value: unknown, source: string, fromFile: boolean] {
  if (flags[spec.key] !== undefined) return [flags[spec.key], 'the command line', false];
  const name = envName(spec.key);
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== '')
    return [fromEnv, `environment variable ${name}`, false];
  if (spec.key !== 'config' && Object.hasOwn(file.values, spec.key))
    return [file.values[spec.key], `key '${spec.key}' of ${file.path}`, true];
  return [spec.default, DEFAULT_SOURCE, false];
}

function readConfigFile(
  explicit: unknown,
  cwd: string,
): { path: string; values: Record<string, unknown> } {
  const path = typeof explicit === 'string' ? resolve(cwd, explicit) : resolve(cwd, CONFIG_FILE);
  if (typeof explicit === 'string') checkSettingsFileSync('--config', path);
  else if (!existsSync(path)) return { path, values: {} };
  let text: string;
  try {
    text = decodeUtf8(readFileSync(path), path).replace(/^\uFEFF/, '');
  } catch (error) {
    if (error instanceof CaptionToolError) throw new ConfigError(error.message, { cause: error });
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`--config: cannot read ${path} (${code ?? String(error)})`, {
      cause: error,
    });
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `${path}: not valid JSON${jsonErrorPlace(text, error)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError(`${path}: expected a JSON object of options`);
  }
  return { path, values: values as Record<string, unknown> };
}

/**
 * ` at line 3, column 1` from JSON.parse's error, which on Node 20 gives only an offset
 * ("at position 37") or none at all (the text ended early).
 */
function jsonErrorPlace(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (/line \d+ column \d+/.test(message)) return '';
  const at = /at position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : /end of JSON input/.test(message) ? text.length : undefined;
  if (offset === undefined) return '';
  const before = text.slice(0, offset).split('\n');
  return ` at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** The config file's values if it can be read as a JSON object, else none; never throws. */
export function peekConfigFile(explicit: unknown, cwd: string): Record<string, unknown> {
  try {
    return readConfigFile(explicit, cwd).values;
  } catch {
    return {};
  }
}
