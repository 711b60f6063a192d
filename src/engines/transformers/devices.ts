import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { GPU_GUIDE } from '../../core/package-root.js';

/** Devices the embedded engine can run on (after `auto` is resolved). */
export type EngineDevice = 'cpu' | 'webgpu' | 'cuda';

/** `existsSync`, or a stand-in (tests fake a machine without a Vulkan loader with it). */
export type Exists = (path: string) => boolean;

/** The folder of onnxruntime-node's native binaries for this platform, if installed. */
export function onnxRuntimeBinDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    return join(root, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/**
 * Fetches ONNX Runtime's CUDA provider (from NuGet, so it needs the network). Running the
 * package's install script directly works on npm 10 and 11 alike (npm 11 may hold back
 * dependencies' install scripts until approved), from any folder: its path is the one
 * installed beside this medcap, a global install's included.
 */
export const CUDA_INSTALL_FIX = `ONNXRUNTIME_NODE_INSTALL=cuda12 node ${onnxRuntimeInstallScript()}`;

function onnxRuntimeInstallScript(): string {
  try {
    const root = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    return join(root, 'script', 'install.js');
  } catch {
    return 'node_modules/onnxruntime-node/script/install.js';
  }
}

/** The libraries ONNX Runtime's CUDA provider needs beside `libonnxruntime.so.1`. */
export const CUDA_PROVIDER_LIBRARIES = Object.freeze([
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
] as const);

/** ONNX Runtime's CUDA provider library, present only where the user installed it. */
export function cudaProviderPath(
  exists: Exists = existsSync,
  binDir: string | undefined = onnxRuntimeBinDir(),
): string | undefined {
  if (!binDir) return undefined;
  const path = join(binDir, CUDA_PROVIDER_LIBRARIES[0]);
  return exists(path) ? path : undefined;
}

const LINUX_LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/lib64',
  '/usr/lib',
  '/lib',
  '/usr/local/lib',
];

/** Where the Vulkan loader is looked for: LD_LIBRARY_PATH, then the usual library folders. */
export function vulkanLoaderDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean);
  return [...extra, ...LINUX_LIBRARY_DIRS];
}

/** The Vulkan loader `libvulkan.so.1`, which Dawn's Vulkan backend (WebGPU on Linux) needs. */
export function vulkanLoaderPath(
  env: NodeJS.ProcessEnv = process.env,
  exists: Exists = existsSync,
): string | undefined {
  return vulkanLoaderDirs(env)
    .map((dir) => join(dir, 'libvulkan.so.1'))
    .find((path) => exists(path));
}

/** WebGPU on Linux goes through Dawn's Vulkan backend, which needs the Vulkan loader. */
export function hasVulkanLoader(
  env: NodeJS.ProcessEnv = process.env,
  exists: Exists = existsSync,
): boolean {
  return vulkanLoaderPath(env, exists) !== undefined;
}

/** What `--device auto` tries, in order: CUDA where installed, WebGPU where it can work, CPU. */
export function autoDeviceOrder(): EngineDevice[] {
  const order: EngineDevice[] = [];
  if (process.platform === 'linux' && cudaProviderPath()) order.push('cuda');
  if (process.platform !== 'linux' || hasVulkanLoader()) order.push('webgpu');
  order.push('cpu');
  return order;
}

/** A clear message for a device that could not be used. */
export function deviceHint(device: EngineDevice): string {
  switch (device) {
    case 'webgpu':
      return (
        'WebGPU needs a GPU driver and, on Linux, the Vulkan loader (libvulkan.so.1); ' +
        `see ${GPU_GUIDE}`
      );
    case 'cuda':
      return `ONNX Runtime's CUDA provider is not installed: ${CUDA_INSTALL_FIX} (or use --device webgpu)`;
    default:
      return '';
  }
}

/** A device as the user names it: one device, or `auto`. */
export type DeviceChoice = EngineDevice | 'auto';

export interface DeviceAttempts {
  /** Failures no other device would fix (a missing file, a bad model): thrown at once. */
  fatal?: (error: unknown) => Error | undefined;
  /** `auto` moves on from `device`, which failed, to `next`. */
  onSkip?: (device: EngineDevice, error: unknown, next: EngineDevice) => void;
  /** The error to throw when the last device tried failed. */
  onFailure: (device: EngineDevice, error: unknown) => Error;
}

/**
 * Loads something on the device the user chose or, for `auto`, on the first of
 * autoDeviceOrder() that works: the one place where a device choice is resolved.
 */
export async function loadOnDevice<T>(
  choice: DeviceChoice,
  load: (device: EngineDevice) => Promise<T>,
  attempts: DeviceAttempts,
): Promise<{ value: T; device: EngineDevice }> {
  const devices: EngineDevice[] = choice === 'auto' ? autoDeviceOrder() : [choice];
  for (const [i, device] of devices.entries()) {
    try {
      return { value: await load(device), device };
    } catch (error) {
      const fatal = attempts.fatal?.(error);
      if (fatal) throw fatal;
      const next = devices[i + 1];
      if (!next) throw attempts.onFailure(device, error);
      attempts.onSkip?.(device, error, next);
    }
  }
  throw new Error('no device to try');
}
