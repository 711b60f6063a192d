import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cannotBeHubId } from '../core/hub-id.js';
import { resolveModelValue, resolvePathValue } from './paths.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'medcap-paths-'));
  await mkdir(join(base, 'models', 'mine'), { recursive: true });
  await mkdir(join(base, 'tiny'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('model values: a local folder or a Hub id', () => {
  it('a value that cannot be a Hub id is a folder, relative to the base', () => {
    for (const value of ['./m', '../m', '.m', '/abs/m', 'a/b/c', 'C:\\models\\m', '~/m'])
      expect(cannotBeHubId(value), value).toBe(true);
    for (const value of ['name', 'owner/name', 'onnx-community/Qwen2-VL-2B-Instruct'])
      expect(cannotBeHubId(value), value).toBe(false);
    expect(resolveModelValue('./models/x', base)).toBe(join(base, 'models', 'x'));
    expect(resolveModelValue('../x', join(base, 'models'))).toBe(join(base, 'x'));
    expect(resolveModelValue('org/sub/x', base)).toBe(join(base, 'org', 'sub', 'x'));
    expect(resolveModelValue('/abs/x', base)).toBe('/abs/x');
  });

  it('one that could be a Hub id is a folder only when it exists under the base', () => {
    expect(resolveModelValue('models/mine', base)).toBe(join(base, 'models', 'mine'));
    expect(resolveModelValue('tiny', base)).toBe(join(base, 'tiny'));
    expect(resolveModelValue('models/other', base)).toBe('models/other');
    expect(resolveModelValue('onnx-community/Qwen2-VL-2B-Instruct', base)).toBe(
      'onnx-community/Qwen2-VL-2B-Instruct',
    );
  });

  it('~/ is left for the model loader to expand', () => {
    expect(resolveModelValue('~/models/x', base)).toBe('~/models/x');
  });
});

describe('resolvePathValue', () => {
  it('paths always; prompts only after @', () => {
    expect(resolvePathValue('path', 'data', base)).toBe(join(base, 'data'));
    expect(resolvePathValue('path', '/abs', base)).toBe('/abs');
    expect(resolvePathValue('prompt', '@p.txt', base)).toBe(`@${join(base, 'p.txt')}`);
    expect(resolvePathValue('prompt', 'Describe it.', base)).toBe('Describe it.');
    expect(resolvePathValue('model', 'tiny', base)).toBe(join(base, 'tiny'));
  });
});
