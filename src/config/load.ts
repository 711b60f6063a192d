import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { envName, flagName, type OptionSpec } from './schema.js';

export const CONFIG_FILE = 'medcap.config.json';

export interface LoadConfigInput {
  specs: readonly OptionSpec[];
  /** Values given on the command line, keyed by camelCase option key. */
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Resolves every option as flag > environment > config file > default, validates each one,
 * and throws one ConfigError listing every problem (each naming its flag, its source and
 * what is allowed) before anything runs.
 */
export function loadConfig(input: LoadConfigInput): Record<string, unknown> {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const file = readConfigFile(input.flags.config ?? env[envName('config')], cwd);
  const knownKeys = new Set(input.specs.map((s) => s.key));
  const problems: string[] = [];

  for (const key of Object.keys(file.values)) {
    if (!knownKeys.has(key) && key !== '$schema') {
      problems.push(`${file.path}: unknown key '${key}'`);
    }
  }

  const config: Record<string, unknown> = {};
  for (const spec of input.specs) {
    const [raw, source] = pick(spec, input.flags, env, file);
    if (raw === undefined) continue;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) {
      config[spec.key] = parsed.data;
    } else {
      const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
      const allowed = spec.allowed ? ` (allowed: ${spec.allowed})` : '';
      problems.push(
        `${flagName(spec)} from ${source}: ${reason}; got ${JSON.stringify(raw)}${allowed}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

function pick(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: { path: string; values: Record<string, unknown> },
): [unknown, string] {
  if (flags[spec.key] !== undefined) return [flags[spec.key], 'the command line'];
  const name = envName(spec.key);
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== '') return [fromEnv, `environment variable ${name}`];
  if (file.values[spec.key] !== undefined) return [file.values[spec.key], file.path];
  return [spec.default, 'the default'];
}

function readConfigFile(
  explicit: unknown,
  cwd: string,
): { path: string; values: Record<string, unknown> } {
  const path = typeof explicit === 'string' ? resolve(cwd, explicit) : resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) {
    if (typeof explicit === 'string') throw new ConfigError(`--config: file not found: ${path}`);
    return { path, values: {} };
  }
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError(`${path}: expected a JSON object of options`);
  }
  return { path, values: values as Record<string, unknown> };
}
