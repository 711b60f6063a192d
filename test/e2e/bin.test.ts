import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');

// The README's set-up runs `npx medcap demo` on the built package: the bin must be there
// and executable after `npm ci` (which builds through `prepare`).
describe('the medcap bin', () => {
  it('is built, executable, and answers through npx', async () => {
    const bin = join(root, 'dist/cli/bin.js');
    expect((await stat(bin)).mode & 0o111, `${bin} is not executable`).not.toBe(0);
    const { stdout } = await run('npx', ['--no-install', 'medcap', '--version'], { cwd: root });
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(stdout.trim()).toBe(version);
  });
});
