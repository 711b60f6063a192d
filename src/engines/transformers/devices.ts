import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

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
 * package's install script directly works on npm 10 and 11 alike: npm 11 does not run
 * dependencies' install scripts unless approved, so `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`
 * alone installs it on npm 10 only.
 */
export const CUDA_INSTALL_FIX =
  'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js';

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
        'see docs/GPU.md'
      );
    case 'cuda':
      return `ONNX Runtime's CUDA provider is not installed: ${CUDA_INSTALL_FIX} (or use --device webgpu)`;
    default:
      return '';
  }
}
