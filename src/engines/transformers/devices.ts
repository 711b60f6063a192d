import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

/** Devices the embedded engine can run on (after `auto` is resolved). */
export type EngineDevice = 'cpu' | 'webgpu' | 'cuda';

/** ONNX Runtime's CUDA provider library, present only where the user installed it. */
export function cudaProviderPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    const path = join(
      root,
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      'libonnxruntime_providers_cuda.so',
    );
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
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

/** WebGPU on Linux goes through Dawn's Vulkan backend, which needs the Vulkan loader. */
export function hasVulkanLoader(env: NodeJS.ProcessEnv = process.env): boolean {
  const extra = (env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean);
  return [...extra, ...LINUX_LIBRARY_DIRS].some((dir) => existsSync(join(dir, 'libvulkan.so.1')));
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
      return (
        "ONNX Runtime's CUDA provider is not installed: reinstall onnxruntime-node with " +
        'ONNXRUNTIME_NODE_INSTALL=cuda12 (or use --device webgpu)'
      );
    default:
      return '';
  }
}
