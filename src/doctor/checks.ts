import { join, resolve } from 'node:path';
import { formatBytes } from '../config/size.js';
import { GPU_GUIDE } from '../core/package-root.js';
import { hasProxyVariable, proxyFor } from '../core/proxy.js';
import {
  CUDA_INSTALL_FIX,
  CUDA_PROVIDER_LIBRARIES,
  vulkanLoaderDirs,
  vulkanLoaderPath,
} from '../engines/transformers/devices.js';
import { onnxFilesFor, type TransformersJsConfig } from '../engines/transformers/dtype.js';
import { hubEndpoint } from '../engines/transformers/hub-fetch.js';
import { defaultModelCacheDir } from '../engines/transformers/model-source.js';
import { describeCeiling, type MemoryCeiling } from '../pipeline/memory.js';
import type { SystemProbe } from './probe.js';

/**
 * `ok`: works. `missing`: an optional path (a GPU device) cannot be used; the line says the
 * fix. `fail`: the default path (captioning on the CPU) cannot work. `info`: a fact.
 */
export type CheckStatus = 'ok' | 'missing' | 'fail' | 'info';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  /** The `--out` folder to check. */
  out: string;
  cwd: string;
  /** The default `--model`, reported as cached or not. */
  defaultModel: string;
}

const MIN_NODE = [20, 9] as const;
const NVIDIA_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';

/** Every check, in the order printed. Pure apart from what `probe` reads. */
export async function runChecks(probe: SystemProbe, options: DoctorOptions): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push(await nodeCheck(probe));
  checks.push(await sharpCheck(probe));
  const ort = await probe.onnxRuntime();
  checks.push(onnxRuntimeCheck(ort));
  const ortLoaded = !(ort instanceof Error);
  checks.push(
    ortLoaded
      ? { name: 'device cpu', status: 'ok', detail: "ONNX Runtime's CPU provider (the default)" }
      : { name: 'device cpu', status: 'fail', detail: 'needs ONNX Runtime', fix: 'npm ci' },
  );
  checks.push(...webgpuChecks(probe, ortLoaded && ort.backends.some((b) => b.name === 'webgpu')));
  const gpus = await probe.nvidiaGpus();
  checks.push(cudaCheck(probe, ortLoaded ? ort.binDir : undefined, gpus !== undefined));
  checks.push(nvidiaCheck(gpus));
  checks.push(memoryCheck(probe.memory()));
  checks.push(...(await modelCacheChecks(probe, options.defaultModel)));
  checks.push(outCheck(probe, resolve(options.cwd, options.out)));
  const proxy = proxyCheck(probe.env);
  if (proxy) checks.push(proxy);
  return checks;
}

/** True when `medcap caption` can run with its defaults (CPU). */
export function defaultPathWorks(checks: readonly Check[]): boolean {
  return checks.every((check) => check.status !== 'fail');
}

/** One line per check: status, name, what was found, and the fix where something is missing. */
export function formatChecks(checks: readonly Check[]): string {
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((check) => {
    const fix = check.fix ? ` -> fix: ${check.fix}` : '';
    return `${check.status.padEnd(7)} ${check.name.padEnd(nameWidth)}  ${check.detail}${fix}`;
  });
  const verdict = defaultPathWorks(checks)
    ? 'medcap can caption and evaluate here on the CPU (the default --device).'
    : 'medcap cannot run its default path here: fix the lines marked fail.';
  return `${lines.join('\n')}\n${verdict}\n`;
}

async function nodeCheck(probe: SystemProbe): Promise<Check> {
  const [major = 0, minor = 0] = probe.nodeVersion.split('.').map(Number);
  const recent = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  const npm = await probe.npmVersion();
  const detail = `Node ${probe.nodeVersion}, ${npm ? `npm ${npm}` : 'npm not found'}`;
  if (!recent) {
    return {
      name: 'node',
      status: 'fail',
      detail,
      fix: `install Node.js ${MIN_NODE.join('.')} or newer (Node 20 LTS)`,
    };
  }
  return npm
    ? { name: 'node', status: 'ok', detail }
    : { name: 'node', status: 'missing', detail, fix: 'install npm (it comes with Node.js)' };
}

async function sharpCheck(probe: SystemProbe): Promise<Check> {
  const sharp = await probe.sharp();
  if (sharp instanceof Error) {
    return {
      name: 'sharp',
      status: 'fail',
      detail: `sharp does not load: ${firstLine(sharp.message)}`,
      fix: 'npm ci (sharp brings its own libvips for linux-x64, linux-arm64, macOS and Windows)',
    };
  }
  return { name: 'sharp', status: 'ok', detail: `sharp ${sharp.sharp}, libvips ${sharp.libvips}` };
}

function onnxRuntimeCheck(ort: Awaited<ReturnType<SystemProbe['onnxRuntime']>>): Check {
  if (ort instanceof Error) {
    return {
      name: 'onnxruntime',
      status: 'fail',
      detail: `onnxruntime-node does not load: ${firstLine(ort.message)}`,
      fix: 'npm ci',
    };
  }
  const names = (bundled: boolean) =>
    ort.backends.filter((b) => b.bundled === bundled).map((b) => b.name);
  const separate = names(false);
  return {
    name: 'onnxruntime',
    status: 'ok',
    detail:
      `onnxruntime-node ${ort.version}, providers ${names(true).join(', ') || 'none listed'}` +
      (separate.length > 0 ? ` (${separate.join(', ')}: separate download)` : ''),
  };
}

/** The folders the Vulkan loader reads driver (ICD) manifests from, as it does on Linux. */
export function vulkanIcdDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? '';
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean);
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean);
  const dataHome = env.XDG_DATA_HOME || (home ? join(home, '.local', 'share') : '');
  return [
    ...configDirs,
    '/usr/local/etc',
    '/etc',
    ...(dataHome ? [dataHome] : []),
    ...dataDirs,
  ].map((dir) => join(dir, 'vulkan', 'icd.d'));
}

/**
 * Driver manifests the loader would use: VK_DRIVER_FILES (or the older VK_ICD_FILENAMES)
 * replaces the search, VK_ADD_DRIVER_FILES adds to it; each entry is a file or a folder.
 */
export function vulkanIcdFiles(probe: SystemProbe): string[] {
  const { env } = probe;
  const split = (value: string | undefined) => (value ?? '').split(':').filter(Boolean);
  const override = split(env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES);
  const entries = [
    ...(override.length > 0 ? override : vulkanIcdDirs(env)),
    ...split(env.VK_ADD_DRIVER_FILES),
  ];
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.endsWith('.json')) {
      if (probe.exists(entry)) files.push(entry);
      continue;
    }
    for (const name of probe.listDir(entry)) {
      if (name.endsWith('.json')) files.push(join(entry, name));
    }
  }
  return [...new Set(files)];
}

function webgpuChecks(probe: SystemProbe, ortHasWebgpu: boolean): Check[] {
  if (probe.platform !== 'linux') {
    return [
      {
        name: 'device webgpu',
        status: ortHasWebgpu ? 'ok' : 'missing',
        detail: ortHasWebgpu
          ? 'ONNX Runtime lists WebGPU (Metal/D3D12 through Dawn); the adapter is chosen at load'
          : 'this onnxruntime-node build lists no WebGPU provider',
      },
    ];
  }
  const loader = vulkanLoaderPath(probe.env, probe.exists);
  const icds = vulkanIcdFiles(probe);
  const loaderCheck: Check = loader
    ? { name: 'vulkan loader', status: 'ok', detail: loader }
    : {
        name: 'vulkan loader',
        status: 'missing',
        detail: `libvulkan.so.1 not found (looked in LD_LIBRARY_PATH and ${vulkanLoaderDirs({}).length} library folders)`,
        fix: `sudo apt-get install libvulkan1 (or put its folder on LD_LIBRARY_PATH); see ${GPU_GUIDE}`,
      };
  const icdCheck: Check =
    icds.length > 0
      ? { name: 'vulkan icd', status: 'ok', detail: icds.join(', ') }
      : {
          name: 'vulkan icd',
          status: 'missing',
          detail: probe.env.VK_DRIVER_FILES
            ? `VK_DRIVER_FILES=${probe.env.VK_DRIVER_FILES} names no driver manifest that exists`
            : 'no Vulkan driver manifest (icd.d/*.json) in the standard folders',
          fix:
            'install the GPU driver (it brings the ICD file); if it sits elsewhere, as in many ' +
            `containers: export VK_DRIVER_FILES=${NVIDIA_ICD}`,
        };
  const ready = ortHasWebgpu && loader !== undefined && icds.length > 0;
  const deviceCheck: Check = ready
    ? {
        name: 'device webgpu',
        status: 'ok',
        detail:
          'Vulkan loader and a driver manifest found; the adapter is named when a model loads (not queried here)',
      }
    : {
        name: 'device webgpu',
        status: 'missing',
        detail: ortHasWebgpu
          ? 'needs the Vulkan loader and a driver manifest (lines above)'
          : 'this onnxruntime-node build lists no WebGPU provider',
        fix: `--device cpu works meanwhile; see ${GPU_GUIDE}`,
      };
  return [loaderCheck, icdCheck, deviceCheck];
}

function cudaCheck(probe: SystemProbe, binDir: string | undefined, hasNvidiaSmi: boolean): Check {
  const present = binDir
    ? CUDA_PROVIDER_LIBRARIES.filter((name) => probe.exists(join(binDir, name)))
    : [];
  if (binDir && present.length === CUDA_PROVIDER_LIBRARIES.length) {
    return {
      name: 'device cuda',
      status: hasNvidiaSmi ? 'ok' : 'missing',
      detail: `CUDA provider libraries in ${binDir}` + (hasNvidiaSmi ? '' : ', but no nvidia-smi'),
      ...(hasNvidiaSmi ? {} : { fix: 'install the NVIDIA driver (and CUDA 12, cuDNN 9)' }),
    };
  }
  const missing = CUDA_PROVIDER_LIBRARIES.filter((name) => !present.includes(name));
  return {
    name: 'device cuda',
    status: 'missing',
    detail: `${missing.join(', ')} not in ${binDir ?? "onnxruntime-node's bin folder"}`,
    fix: `${CUDA_INSTALL_FIX} (downloads them; needs CUDA 12 and cuDNN 9)`,
  };
}

function nvidiaCheck(gpus: Awaited<ReturnType<SystemProbe['nvidiaGpus']>>): Check {
  if (gpus === undefined) {
    return {
      name: 'nvidia-smi',
      status: 'info',
      detail: 'not found: no NVIDIA driver here (GPU memory is not reported during runs)',
    };
  }
  const list = gpus.map((g) => `${g.name} (${formatBytes(g.memoryBytes)})`).join(', ');
  return { name: 'nvidia-smi', status: 'ok', detail: list || 'no GPU listed' };
}

/** What a run may hold in RAM: the cgroup limit (SLURM --mem, containers) when lower. */
export function memoryCheck(ceiling: MemoryCeiling): Check {
  return {
    name: 'memory',
    status: 'info',
    detail:
      `${describeCeiling(ceiling)} for this process; without --memory-limit, the cache and ` +
      `prefetch of a caption run take at most half (${formatBytes(Math.floor(ceiling.bytes / 2))})`,
  };
}

async function modelCacheChecks(probe: SystemProbe, defaultModel: string): Promise<Check[]> {
  const cache = defaultModelCacheDir(probe.env);
  const models = cachedModels(probe, cache);
  const free = await probe.freeDiskBytes(cache);
  const listed =
    models.length === 0
      ? 'no models yet'
      : models.map((m) => `${m.id} (${formatBytes(m.bytes)})`).join(', ');
  const checks: Check[] = [
    {
      name: 'model cache',
      status: 'info',
      detail:
        `${cache}${probe.env.MEDCAP_MODEL_CACHE ? ' (MEDCAP_MODEL_CACHE)' : ''}: ${listed}; ` +
        `${free === undefined ? 'free disk unknown' : `${formatBytes(free)} free`}`,
    },
  ];
  const folder = join(cache, ...defaultModel.split('/'));
  const cached = models.some((m) => m.id === defaultModel);
  if (!probe.writable(cache)) {
    // A shared read-only cache is fine for the models in it; a download needs a writable one.
    checks.push({
      name: 'model cache',
      status: cached ? 'info' : 'missing',
      detail: `${cache} cannot be written (read-only, or a file where a folder is needed): ${
        cached
          ? 'the models cached there can be used, none downloaded'
          : 'no model can be downloaded there'
      }`,
      fix: 'set MEDCAP_MODEL_CACHE to a folder you can write to, or pass --model with a model folder',
    });
  }
  if (!cached) {
    checks.push({
      name: 'default model',
      status: 'info',
      detail: `${defaultModel} is not cached: the first caption run downloads it (or copy its folder to ${folder})`,
    });
    return checks;
  }
  const missing = defaultModelFiles(probe, folder).filter((f) => !probe.exists(join(folder, f)));
  if (missing.length > 0) {
    checks.push({
      name: 'default model',
      status: 'missing',
      detail: `${defaultModel} is cached in ${folder} without ${missing.join(', ')}, so --offline runs of the default --dtype fail`,
      fix: 'run medcap caption once with network access (it fetches only what is missing), or copy those files there',
    });
  }
  return checks;
}

/** The files a caption run with no --dtype reads from a model folder (its ONNX files per config.json). */
function defaultModelFiles(probe: SystemProbe, folder: string): string[] {
  let jsConfig: TransformersJsConfig = {};
  try {
    const config = JSON.parse(probe.readText(join(folder, 'config.json')) ?? '{}');
    jsConfig = config['transformers.js_config'] ?? {};
  } catch {
    // An unreadable config.json: the run itself will say so; list the fp32 files meanwhile.
  }
  return [
    'tokenizer.json',
    'tokenizer_config.json',
    'preprocessor_config.json',
    ...onnxFilesFor(undefined, jsConfig),
  ];
}

/** Model folders (`owner/name/config.json` or `name/config.json`) in the cache. */
function cachedModels(probe: SystemProbe, cache: string): Array<{ id: string; bytes: number }> {
  const found: Array<{ id: string; bytes: number }> = [];
  for (const first of probe.listDir(cache).sort()) {
    if (first.startsWith('.')) continue;
    const path = join(cache, first);
    if (probe.exists(join(path, 'config.json'))) {
      found.push({ id: first, bytes: probe.folderBytes(path) });
      continue;
    }
    for (const second of probe.listDir(path).sort()) {
      const model = join(path, second);
      if (probe.exists(join(model, 'config.json'))) {
        found.push({ id: `${first}/${second}`, bytes: probe.folderBytes(model) });
      }
    }
  }
  return found;
}

function outCheck(probe: SystemProbe, out: string): Check {
  return probe.writable(out)
    ? {
        name: 'out',
        status: 'ok',
        detail: `${out} is writable${probe.exists(out) ? '' : ' (will be created)'}`,
      }
    : {
        name: 'out',
        status: 'fail',
        detail: `${out} is not writable`,
        fix: 'pass --out DIR with a folder you can write to',
      };
}

/**
 * The proxy `--engine openai` uses for a remote http:// and https:// server, and the one model
 * downloads from the Hugging Face Hub go through (never the password), when a proxy variable
 * is set; `missing` when its URL cannot be used.
 */
export function proxyCheck(env: NodeJS.ProcessEnv): Check | undefined {
  if (!hasProxyVariable(env)) return undefined;
  const parts: string[] = [];
  let hub: string;
  try {
    for (const scheme of ['https', 'http'] as const) {
      const proxy = proxyFor(new URL(`${scheme}://remote.invalid/`), env);
      parts.push(
        `${scheme}:// servers ${proxy ? `via ${proxy.label} (${proxy.variable})` : 'directly'}`,
      );
    }
    const endpoint = hubEndpoint(env);
    const proxy = proxyFor(new URL(endpoint), env);
    hub = `model downloads from ${endpoint} ${proxy ? `via ${proxy.label} (${proxy.variable})` : 'directly'}`;
  } catch (error) {
    return {
      name: 'proxy',
      status: 'missing',
      detail: `--engine openai and model downloads cannot use it: ${(error as Error).message}`,
      fix: 'give the proxy as http://host:port (or unset the variable)',
    };
  }
  const noProxy = env.no_proxy ?? env.NO_PROXY;
  return {
    name: 'proxy',
    status: 'info',
    detail:
      `--engine openai reaches ${parts.join(', ')}; ${hub}; ` +
      `directly: loopback${noProxy ? `, NO_PROXY ${noProxy}` : ''}`,
  };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
