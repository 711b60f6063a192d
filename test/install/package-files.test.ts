import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The paths `npm pack` would put in the package (from package.json `files`), without building. */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return pack!.files.map((file) => file.path);
}

describe('the npm package', () => {
  it('ships what medcap reads at run time and what its messages point to, and no test model or source maps', () => {
    const files = packedFiles();
    for (const needed of [
      'assets/wordnet-3.0/data.noun.2',
      'assets/wordnet-3.0/LICENSE',
      'docs/GPU.md',
      'models/demo-captioner/config.json',
      'README.md',
      'LICENSE',
    ]) {
      expect(files, needed).toContain(needed);
    }
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(files.filter((path) => path.startsWith('models/tiny-qwen2-vl/'))).toEqual([]);
    expect(files.filter((path) => /^(src|test|bench|tools)\//.test(path))).toEqual([]);
  });
});
