import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { readText } from '../core/cgroup.js';
import { folderCanBeMade } from '../core/files.js';
import { expandHome } from '../core/home-path.js';
import { type Exists, onnxRuntimeBinDir } from '../engines/transformers/devices.js';
import { type MemoryCeiling, memoryCeiling } from '../pipeline/memory.js';

const run = promisify(execFile);

export interface OnnxRuntimeInfo {
  version: string;
  binDir: string | undefined;
  /** Execution providers; `bundled: false` ones need a separate download. */
  backends: Array<{ name: string; bundled: boolean }>;
}

export interface Gpu {
  name: string;
  memoryBytes: number;
}

/**
 * Everything `medcap doctor` asks of the machine, behind one interface so that tests can
 * fake a machine (no Vulkan loader, a GPU, a missing library) without touching this one.
 */
export interface SystemProbe {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  nodeVersion: string;
  exists: Exists;
  /** File names in a folder; empty when it cannot be read. */
  listDir(path: string): string[];
  /** A text file's content; undefined when it cannot be read. */
  readText(path: string): string | undefined;
  npmVersion(): Promise<string | undefined>;
  /** sharp's and libvips' versions, or why sharp did not load. */
  sharp(): Promise<{ sharp: string; libvips: string } | Error>;
  /** onnxruntime-node's version and the backends it lists, or why it did not load. */
  onnxRuntime(): Promise<OnnxRuntimeInfo | Error>;
  /** GPUs as nvidia-smi lists them; undefined when there is no nvidia-smi. */
  nvidiaGpus(): Promise<Gpu[] | undefined>;
  /** Bytes used by the files under a folder. */
  folderBytes(path: string): number;
  freeDiskBytes(path: string): Promise<number | undefined>;
  /** True when files can be created in this folder (or, if it does not exist yet, made there). */
  writable(path: string): boolean;
  /** RAM, and the cgroup memory limit when it is lower. */
  memory(): MemoryCeiling;
}

/** The real machine. */
export function systemProbe(env: NodeJS.ProcessEnv = process.env): SystemProbe {
  const require = createRequire(import.meta.url);
  return {
    env,
    platform: process.platform,
    nodeVersion: process.versions.node,
    exists: existsSync,
    listDir,
    readText,
    async npmVersion() {
      const agent = /\bnpm\/([\d.]+)/.exec(env.npm_config_user_agent ?? '');
      if (agent) return agent[1];
      try {
        const { stdout } = await run('npm', ['--version'], { timeout: 15_000, env });
        return stdout.trim() || undefined;
      } catch {
        return undefined;
      }
    },
    async sharp() {
      try {
        const sharp = (await import('sharp')).default;
        return { sharp: sharp.versions.sharp ?? '?', libvips: sharp.versions.vips };
      } catch (error) {
        return asError(error);
      }
    },
    async onnxRuntime() {
      try {
        const ort = require('onnxruntime-node') as {
          env: { versions: { node?: string; common?: string } };
          listSupportedBackends?: () => Array<{ name: string; bundled: boolean }>;
        };
        const backends = (ort.listSupportedBackends?.() ?? []).map(({ name, bundled }) => ({
          name,
          bundled,
        }));
        const version = ort.env.versions.node ?? ort.env.versions.common ?? '?';
        return { version, binDir: onnxRuntimeBinDir(), backends };
      } catch (error) {
        return asError(error);
      }
    },
    async nvidiaGpus() {
      try {
        const { stdout } = await run(
          'nvidia-smi',
          ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'],
          { timeout: 10_000 },
        );
        return stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const at = line.lastIndexOf(',');
            return {
              name: line.slice(0, at).trim(),
              memoryBytes: Number(line.slice(at + 1).trim()) * 1024 * 1024,
            };
          });
      } catch {
        return undefined;
      }
    },
    folderBytes,
    async freeDiskBytes(path) {
      try {
        const stats = await statfs(nearestExisting(path));
        return stats.bavail * stats.bsize;
      } catch {
        return undefined;
      }
    },
    writable(path) {
      try {
        const folder = nearestExisting(path);
        accessSync(folder, constants.W_OK);
        // a file where the folder (or one of its parents) should be cannot hold files; and
        // access() says /proc is writable, where no folder can be made
        return statSync(folder).isDirectory() && folderCanBeMade(path);
      } catch {
        return false;
      }
    },
    memory: () => memoryCeiling(),
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function folderBytes(path: string): number {
  let total = 0;
  for (const name of listDir(path)) {
    const child = join(path, name);
    try {
      const stats = statSync(child);
      total += stats.isDirectory() ? folderBytes(child) : stats.size;
    } catch {
      // a file that vanished or cannot be read adds nothing
    }
  }
  return total;
}

/** The folder itself if it exists, else its closest existing parent (where it would be made). */
function nearestExisting(path: string): string {
  let current = expandHome(path);
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}
