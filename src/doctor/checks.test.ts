import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { GPU_GUIDE } from '../core/package-root.js';
import { vulkanLoaderPath } from '../engines/transformers/devices.js';
import {
  type Check,
  defaultPathWorks,
  formatChecks,
  memoryCheck,
  proxyCheck,
  runChecks,
  vulkanIcdFiles,
} from './checks.js';
import { type SystemProbe, systemProbe } from './probe.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-doctor-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const MODEL = 'onnx-community/Qwen2-VL-2B-Instruct';

function byName(checks: readonly Check[], name: string): Check {
  const check = checks.find((c) => c.name === name);
  if (!check) throw new Error(`no check '${name}' in ${checks.map((c) => c.name).join(', ')}`);
  return check;
}

function hasNvidiaSmi(): boolean {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** This machine, with a few answers replaced. */
function probeWith(overrides: Partial<SystemProbe>, env: NodeJS.ProcessEnv = {}): SystemProbe {
  return { ...systemProbe({ ...process.env, ...env }), ...overrides };
}

describe('medcap doctor on this machine', () => {
  it('reports what is really here and exits 0 when the CPU path works', async () => {
    const out: string[] = [];
    const code = await main(['doctor', '--out', join(root, 'out')], {
      env: { ...process.env, MEDCAP_MODEL_CACHE: join(root, 'empty-cache') },
      writeOut: (t) => out.push(t),
      writeErr: () => {},
    });
    const text = out.join('');
    expect(code).toBe(0);
    expect(text).toMatch(new RegExp(`^ok +node +Node ${process.versions.node}, npm \\d+\\.`, 'm'));
    expect(text).toContain(`libvips ${sharp.versions.vips}`);
    expect(text).toMatch(/^ok +onnxruntime +onnxruntime-node \d+\.\d+\.\d+, providers cpu/m);
    expect(text).toMatch(/^ok +device cpu /m);
    const loader = vulkanLoaderPath();
    expect(text).toMatch(
      loader ? new RegExp(`^ok +vulkan loader +${loader}`, 'm') : /^missing vulkan loader .*fix: /m,
    );
    expect(text).toMatch(hasNvidiaSmi() ? /^ok +nvidia-smi /m : /^info +nvidia-smi +not found/m);
    expect(text).toContain(`${join(root, 'empty-cache')} (MEDCAP_MODEL_CACHE): no models yet`);
    expect(text).toMatch(/^ok +out +.* is writable \(will be created\)$/m);
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/can caption and evaluate here on the CPU/);
    expect(existsSync(join(root, 'out'))).toBe(false);
  });
});

describe('medcap doctor with a faked machine', () => {
  const icdDir = () => join(root, 'icd.d');
  const loaderDir = () => join(root, 'lib');

  beforeAll(async () => {
    await mkdir(icdDir(), { recursive: true });
    await writeFile(join(icdDir(), 'nvidia_icd.json'), '{}');
    await mkdir(loaderDir(), { recursive: true });
    await writeFile(join(loaderDir(), 'libvulkan.so.1'), '');
  });

  const gpuMachine = (env: NodeJS.ProcessEnv = {}) =>
    probeWith(
      {
        platform: 'linux',
        nvidiaGpus: async () => [{ name: 'NVIDIA H100 80GB HBM3', memoryBytes: 81559 * 2 ** 20 }],
      },
      { LD_LIBRARY_PATH: loaderDir(), VK_DRIVER_FILES: join(icdDir(), 'nvidia_icd.json'), ...env },
    );
  const options = () => ({ out: join(root, 'out'), cwd: root, defaultModel: MODEL });

  it('finds the Vulkan loader and the ICD file it is pointed at', async () => {
    const checks = await runChecks(gpuMachine(), options());
    expect(byName(checks, 'vulkan loader')).toMatchObject({
      status: 'ok',
      detail: join(loaderDir(), 'libvulkan.so.1'),
    });
    expect(byName(checks, 'vulkan icd')).toMatchObject({
      status: 'ok',
      detail: join(icdDir(), 'nvidia_icd.json'),
    });
    expect(byName(checks, 'device webgpu').status).toBe('ok');
    expect(byName(checks, 'nvidia-smi')).toMatchObject({
      status: 'ok',
      detail: 'NVIDIA H100 80GB HBM3 (79.6 GiB)',
    });
  });

  it('says what to install when the Vulkan loader is missing, and still exits 0', async () => {
    const noLoader = gpuMachine();
    const exists = noLoader.exists;
    noLoader.exists = (path) => !path.endsWith('libvulkan.so.1') && exists(path);
    const checks = await runChecks(noLoader, options());
    const loader = byName(checks, 'vulkan loader');
    expect(loader.status).toBe('missing');
    expect(loader.detail).toMatch(/libvulkan\.so\.1 not found/);
    expect(loader.fix).toMatch(/apt-get install libvulkan1/);
    // The GPU guide shipped with medcap, by its full path (right for a package install too).
    expect(loader.fix).toContain(`see ${GPU_GUIDE}`);
    expect(readFileSync(GPU_GUIDE, 'utf8')).toContain('Vulkan');
    expect(byName(checks, 'device webgpu')).toMatchObject({ status: 'missing' });
    expect(defaultPathWorks(checks)).toBe(true);
    const text = formatChecks(checks);
    expect(text).toMatch(
      /^missing vulkan loader +libvulkan\.so\.1 not found.* -> fix: sudo apt-get/m,
    );
    expect(text).toMatch(/^missing device webgpu /m);
  });

  it('gives the VK_DRIVER_FILES hint when no driver manifest is found', async () => {
    const probe = gpuMachine({ VK_DRIVER_FILES: join(root, 'nowhere.json') });
    const icd = byName(await runChecks(probe, options()), 'vulkan icd');
    expect(icd.status).toBe('missing');
    expect(icd.detail).toContain('nowhere.json');
    expect(icd.fix).toMatch(/export VK_DRIVER_FILES=\/usr\/local\/nvidia\/share\/vulkan\/icd\.d/);
  });

  it('reads ICD folders from VK_ADD_DRIVER_FILES and the XDG data folders', () => {
    const probe = probeWith({}, { XDG_DATA_DIRS: root, VK_ADD_DRIVER_FILES: icdDir() });
    expect(vulkanIcdFiles(probe)).toContain(join(icdDir(), 'nvidia_icd.json'));
  });

  it('calls CUDA usable only with both provider libraries and a driver', async () => {
    const withLibs = gpuMachine();
    const exists = withLibs.exists;
    withLibs.exists = (path) =>
      /libonnxruntime_providers_(cuda|shared)\.so$/.test(path) || exists(path);
    expect(byName(await runChecks(withLibs, options()), 'device cuda').status).toBe('ok');
    const without = byName(await runChecks(gpuMachine(), options()), 'device cuda');
    expect(without.status).toBe('missing');
    expect(without.fix).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node .*script\/install/);
    // The installed script's full path: right from any folder, and for a global install.
    const script = /ONNXRUNTIME_NODE_INSTALL=cuda12 node (\S+)/.exec(without.fix!)![1]!;
    expect(isAbsolute(script)).toBe(true);
    expect(existsSync(script)).toBe(true);
  });

  it('lists cached models with their sizes', async () => {
    const cache = join(root, 'cache');
    await mkdir(join(cache, 'onnx-community', 'Qwen2-VL-2B-Instruct', 'onnx'), { recursive: true });
    await writeFile(join(cache, 'onnx-community', 'Qwen2-VL-2B-Instruct', 'config.json'), '{}');
    await writeFile(
      join(cache, 'onnx-community', 'Qwen2-VL-2B-Instruct', 'onnx', 'x.onnx'),
      Buffer.alloc(2048),
    );
    const checks = await runChecks(probeWith({}, { MEDCAP_MODEL_CACHE: cache }), options());
    expect(byName(checks, 'model cache').detail).toMatch(
      new RegExp(`^${cache} \\(MEDCAP_MODEL_CACHE\\): ${MODEL} \\(2\\.0 KiB\\); .* free$`),
    );
    // Cached, so not "not cached"; this folder lacks its graphs (next test).
    expect(byName(checks, 'default model').detail).not.toMatch(/is not cached/);
  });

  it('says when the model cache cannot be written, and how much that matters', async () => {
    const file = join(root, 'cache-is-a-file');
    await writeFile(file, 'not a folder');
    for (const cache of [file, join(file, 'models'), '/proc/medcap-cache']) {
      const checks = await runChecks(probeWith({}, { MEDCAP_MODEL_CACHE: cache }), options());
      const unwritable = checks.find((c) => c.name === 'model cache' && c.status === 'missing');
      expect(unwritable?.detail, cache).toBe(
        `${cache} cannot be written (read-only, or a file where a folder is needed): no model can be downloaded there`,
      );
      expect(unwritable?.fix).toMatch(/MEDCAP_MODEL_CACHE/);
    }
    const writable = await runChecks(
      probeWith({}, { MEDCAP_MODEL_CACHE: join(root, 'new-cache') }),
      options(),
    );
    expect(writable.filter((c) => c.name === 'model cache').map((c) => c.status)).toEqual(['info']);
  });

  it('reads a quoted ~ in MEDCAP_MODEL_CACHE as the home folder', async () => {
    const checks = await runChecks(probeWith({}, { MEDCAP_MODEL_CACHE: '~/medcap-x' }), options());
    expect(byName(checks, 'model cache').detail).toMatch(
      new RegExp(`^${join(homedir(), 'medcap-x')} \\(MEDCAP_MODEL_CACHE\\)`),
    );
  });

  it('says which files a cached default model lacks for an offline run, and the fix', async () => {
    const cache = join(root, 'partial-cache');
    const folder = join(cache, 'onnx-community', 'Qwen2-VL-2B-Instruct');
    await mkdir(join(folder, 'onnx'), { recursive: true });
    const config = { 'transformers.js_config': { dtype: { decoder_model_merged: 'q4' } } };
    await writeFile(join(folder, 'config.json'), JSON.stringify(config));
    for (const file of [
      'tokenizer.json',
      'tokenizer_config.json',
      'preprocessor_config.json',
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
    ]) {
      await writeFile(join(folder, file), '{}');
    }
    const probe = probeWith({}, { MEDCAP_MODEL_CACHE: cache });
    const check = byName(await runChecks(probe, options()), 'default model');
    expect(check.status).toBe('missing');
    expect(check.detail).toBe(
      `${MODEL} is cached in ${folder} without onnx/decoder_model_merged_q4.onnx, so --offline runs of the default --dtype fail`,
    );
    expect(check.fix).toMatch(/run medcap caption once with network access/);

    await writeFile(join(folder, 'onnx', 'decoder_model_merged_q4.onnx'), '');
    const complete = await runChecks(probe, options());
    expect(complete.some((c) => c.name === 'default model')).toBe(false);
  });

  it('fails the default path when sharp or the output folder is unusable', async () => {
    const broken = probeWith({
      sharp: async () => new Error('Could not load the "sharp" module'),
      writable: () => false,
    });
    const checks = await runChecks(broken, options());
    expect(byName(checks, 'sharp')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/npm ci/),
    });
    expect(byName(checks, 'out')).toMatchObject({ status: 'fail' });
    expect(defaultPathWorks(checks)).toBe(false);
    expect(formatChecks(checks)).toMatch(/cannot run its default path here/);
  });
});

describe('proxyCheck', () => {
  it('says which proxy the openai engine and model downloads use, without the password, only when one is set', () => {
    expect(proxyCheck({ PATH: '/bin' })).toBeUndefined();
    const check = proxyCheck({
      HTTPS_PROXY: 'http://me:pw-secret@proxy.example:3128',
      NO_PROXY: '.hospital.org',
    });
    expect(check).toEqual({
      name: 'proxy',
      status: 'info',
      detail:
        '--engine openai reaches https:// servers via http://proxy.example:3128 (HTTPS_PROXY), ' +
        'http:// servers directly; model downloads from https://huggingface.co via ' +
        'http://proxy.example:3128 (HTTPS_PROXY); directly: loopback, NO_PROXY .hospital.org',
    });
    expect(
      proxyCheck({ HTTPS_PROXY: 'http://proxy.example:3128', no_proxy: 'huggingface.co' })?.detail,
    ).toContain('model downloads from https://huggingface.co directly;');
  });

  it('marks a proxy URL the engine cannot use', () => {
    expect(proxyCheck({ ALL_PROXY: 'socks5://proxy:1080' })).toMatchObject({
      status: 'missing',
      detail: expect.stringMatching(/ALL_PROXY=socks5:\/\/proxy:1080: only HTTP proxies/),
    });
  });
});

describe('memory check', () => {
  it('names the cgroup limit that binds a SLURM job on a large node, and the half runs take', () => {
    const check = memoryCheck({
      bytes: 8 * 1024 ** 3,
      ramBytes: 256 * 1024 ** 3,
      cgroupFile: '/sys/fs/cgroup/job_1/memory.max',
    });
    expect(check.status).toBe('info');
    expect(check.detail).toMatch(
      /^8\.0 GiB \(cgroup memory limit in \/sys\/fs\/cgroup\/job_1\/memory\.max; the machine has 256\.0 GiB\).*at most half \(4\.0 GiB\)/,
    );
  });

  it('is printed by medcap doctor', async () => {
    const checks = await runChecks(probeWith({}), { out: root, cwd: root, defaultModel: MODEL });
    expect(byName(checks, 'memory').detail).toMatch(/GiB \((RAM|cgroup memory limit)/);
  });
});
