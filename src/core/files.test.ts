import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputError } from './errors.js';
import {
  asOutputError,
  ensureWritableDir,
  folderCanBeMade,
  readFileShared,
  removeStaleTempFiles,
  withFolderCleanup,
  writeFileAtomic,
} from './files.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes a string, bytes, or pieces in order', async () => {
    const path = join(dir, 'pieces.csv');
    await writeFileAtomic(path, [Buffer.from('a,b\n'), Buffer.alloc(0), Buffer.from('1,2\n')]);
    expect(await readFile(path, 'utf8')).toBe('a,b\n1,2\n');
    await writeFileAtomic(path, 'x\n');
    expect(await readFile(path, 'utf8')).toBe('x\n');
    // Bytes in one piece: a view into a larger buffer, several MiB long.
    const whole = Buffer.alloc(3 * 2 ** 20 + 7);
    for (let i = 0; i < whole.length; i++) whole[i] = (i * 31 + (i >> 9)) & 0xff;
    const view = whole.subarray(5, whole.length - 1);
    await writeFileAtomic(path, view);
    expect((await readFile(path)).equals(view)).toBe(true);
  });

  it('leaves no temp file behind when the write fails', async () => {
    const folder = join(dir, 'in-the-way');
    await mkdir(join(folder, 'target.csv'), { recursive: true });
    await expect(writeFileAtomic(join(folder, 'target.csv'), 'data')).rejects.toThrow();
    expect(await readdir(folder)).toEqual(['target.csv']);
  });
});

describe('asOutputError', () => {
  it('names the file and the reason for disk errors, and leaves other errors alone', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const wrapped = asOutputError(full, '/data/out/x.csv');
    expect(wrapped).toBeInstanceOf(OutputError);
    expect((wrapped as Error).message).toBe(
      'cannot write /data/out/x.csv: the disk is full (ENOSPC)',
    );
    const other = new Error('something else');
    expect(asOutputError(other, '/data/out/x.csv')).toBe(other);
  });
});

describe('removeStaleTempFiles', () => {
  it("removes this command's leftover temp files and write probes, nobody else's", async () => {
    const folder = join(dir, 'stale');
    await mkdir(folder);
    for (const name of [
      '.checkpoint_8.csv.0a1b2c3d.tmp',
      '.medical_train_summary.txt.0a1b2c3d.tmp',
      '.medcap-write-test.0a1b2c3d.tmp',
      'checkpoint_8.csv',
      '.hidden-but-not-ours',
    ])
      await writeFile(join(folder, name), 'x');
    await removeStaleTempFiles(folder, (name) => name.startsWith('checkpoint_'));
    expect((await readdir(folder)).sort()).toEqual([
      '.hidden-but-not-ours',
      '.medical_train_summary.txt.0a1b2c3d.tmp',
      'checkpoint_8.csv',
    ]);
  });
});

describe('readFileShared', () => {
  it('reads the whole file into shared memory', async () => {
    const path = join(dir, 'shared.bin');
    const bytes = Buffer.alloc(2 ** 20 + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 11)) & 0xff;
    await writeFile(path, bytes);
    const got = await readFileShared(path);
    expect(got.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Buffer.from(got).equals(bytes)).toBe(true);
    await writeFile(path, '');
    expect((await readFileShared(path)).length).toBe(0);
  });
});

describe('withFolderCleanup', () => {
  it('removes the folders a failed command made that are still empty, and only those', async () => {
    const top = join(dir, 'made');
    await mkdir(top);
    const code = await withFolderCleanup(
      async () => {
        await ensureWritableDir(join(top, 'a', 'b', 'c'), '--out');
        await ensureWritableDir(join(top, 'kept', 'x'), '--out');
        await writeFile(join(top, 'kept', 'x', 'journal.jsonl'), '{}\n');
        return 2;
      },
      (result) => result !== 0,
    );
    expect(code).toBe(2);
    // a/b/c was empty: all three go; kept/x holds a file: both stay; `top` was there before.
    expect((await readdir(top)).sort()).toEqual(['kept']);
    expect(await readdir(join(top, 'kept', 'x'))).toEqual(['journal.jsonl']);
  });

  it("keeps what a command that succeeded made, and another command's folders", async () => {
    const succeeded = join(dir, 'succeeded-out');
    const failedOut = join(dir, 'failed-out');
    let made: () => void = () => {};
    const madeFirst = new Promise<void>((resolve) => (made = resolve));
    // Two commands at once: the one that fails removes only its own empty folders.
    const [kept, failed] = await Promise.all([
      withFolderCleanup(
        async () => {
          await ensureWritableDir(succeeded, '--out');
          made();
          return 0;
        },
        (result) => result !== 0,
      ),
      withFolderCleanup(
        async () => {
          await madeFirst;
          await ensureWritableDir(failedOut, '--out');
          return 1;
        },
        (result) => result !== 0,
      ),
    ]);
    expect([kept, failed]).toEqual([0, 1]);
    expect(existsSync(succeeded)).toBe(true);
    expect(existsSync(failedOut)).toBe(false);
  });
});

describe('ensureWritableDir', () => {
  it('makes every missing level, and names the option where a file is in the way', async () => {
    await ensureWritableDir(join(dir, 'new', 'deep', 'out'), '--out');
    expect(existsSync(join(dir, 'new', 'deep', 'out'))).toBe(true);
    await ensureWritableDir(join(dir, 'new', 'deep', 'out'), '--out');
    await writeFile(join(dir, 'a-file'), 'x');
    await expect(ensureWritableDir(join(dir, 'a-file'), '--out')).rejects.toThrow(
      /^--out .*a-file: the output folder is not writable: a file of that name is in the way \(EEXIST\)$/,
    );
  });

  // Node 20's recursive mkdir loops forever there: /proc/x is ENOENT, /proc is EEXIST.
  it.skipIf(!existsSync('/proc/self'))(
    'fails at once where the file system lets no folder be made (/proc)',
    async () => {
      for (const out of ['/proc/medcap-out', '/proc/self/medcap-out/x']) {
        await expect(ensureWritableDir(out, '--out')).rejects.toThrow(
          `--out ${out}: the output folder is not writable: no folder can be made there (ENOENT)`,
        );
      }
      expect(folderCanBeMade('/proc/medcap-out')).toBe(false);
      expect(folderCanBeMade(join(dir, 'can', 'be', 'made'))).toBe(true);
      expect(existsSync(join(dir, 'can'))).toBe(false);
    },
  );
});
