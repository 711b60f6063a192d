import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import {
  checkInputPath,
  checkInputPathSync,
  checkSettingsFile,
  inputPathError,
} from './input-path.js';

let root: string;
let file: string;
let folder: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-input-path-'));
  file = join(root, 'a.csv');
  folder = join(root, 'dir');
  await writeFile(file, 'x\n');
  await mkdir(folder);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The error checkInputPath throws, checked to be the same from its synchronous twin. */
async function refusal(path: string, kind: 'file' | 'folder' | 'file or folder') {
  const error = await checkInputPath('--x', path, kind).then(
    () => undefined,
    (e: unknown) => e,
  );
  let sync: unknown;
  try {
    checkInputPathSync('--x', path, kind);
  } catch (e) {
    sync = e;
  }
  expect((sync as Error | undefined)?.message).toBe((error as Error | undefined)?.message);
  return error as ConfigError | undefined;
}

describe('checkInputPath', () => {
  it('takes what is there and of the kind asked for, and returns its stats', async () => {
    expect((await checkInputPath('--x', file, 'file')).isFile()).toBe(true);
    expect((await checkInputPath('--x', folder, 'folder')).isDirectory()).toBe(true);
    expect(await refusal(file, 'file or folder')).toBeUndefined();
    expect(await refusal(folder, 'file or folder')).toBeUndefined();
  });

  it('a path that is not there: a ConfigError (exit 1) naming the option, the path and the kind', async () => {
    const missing = join(root, 'nope');
    for (const kind of ['file', 'folder', 'file or folder'] as const) {
      const error = await refusal(missing, kind);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error?.code).toBe('INPUT_PATH');
      expect(error?.message).toBe(`--x ${missing}: no such ${kind}`);
    }
    // A path through a file (ENOTDIR) and a dangling link are not there either.
    expect((await refusal(join(file, 'inside'), 'file'))?.message).toMatch(/: no such file$/);
    await symlink(join(root, 'gone'), join(root, 'dangling'));
    expect((await refusal(join(root, 'dangling'), 'folder'))?.message).toMatch(/no such folder$/);
  });

  it('the wrong kind: a ConfigError saying what it is', async () => {
    expect((await refusal(folder, 'file'))?.message).toBe(`--x ${folder}: is a folder, not a file`);
    expect((await refusal(file, 'folder'))?.message).toBe(`--x ${file}: is a file, not a folder`);
    await symlink(join(root, 'loop-b'), join(root, 'loop-a'));
    await symlink(join(root, 'loop-a'), join(root, 'loop-b'));
    const loop = await refusal(join(root, 'loop-a'), 'file');
    expect(loop).toBeInstanceOf(ConfigError);
    expect(loop?.message).toMatch(/loop-a: is a symbolic link loop$/);
  });

  it.skipIf(process.platform === 'win32')('a FIFO is neither a file nor a folder', async () => {
    const fifo = join(root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const error = await refusal(fifo, 'file or folder');
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toBe(`--x ${fifo}: is a FIFO, not a file or folder`);
  });

  it('checkSettingsFile: a file whose content is configuration', async () => {
    await expect(checkSettingsFile('--config', file)).resolves.toBeUndefined();
    await expect(checkSettingsFile('--config', folder)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('helpers', () => {
  it('inputPathError names what and where', () => {
    const error = inputPathError('run folder', '/r', 'no such folder');
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('run folder /r: no such folder');
  });
});
