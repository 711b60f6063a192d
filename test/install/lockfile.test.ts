import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type Lockfile, type PackageJson, unpinnedTags } from './lock-tags.js';

const root = new URL('../../', import.meta.url);

describe('package-lock.json', () => {
  it('requests no dependency by a dist-tag that package.json overrides leave unpinned', async () => {
    const lock = JSON.parse(await readFile(new URL('package-lock.json', root), 'utf8')) as Lockfile;
    const manifest = JSON.parse(
      await readFile(new URL('package.json', root), 'utf8'),
    ) as PackageJson;
    const unpinned = unpinnedTags(lock, manifest).map(
      ({ parent, name, spec }) =>
        `${parent || 'package.json'} asks for ${name}@${spec}: pin it in package.json "overrides"`,
    );
    expect(unpinned).toEqual([]);
  });

  it('requests no production dependency by a dist-tag at all: overrides do not reach the projects that install medcap', async () => {
    const lock = JSON.parse(await readFile(new URL('package-lock.json', root), 'utf8')) as Lockfile;
    const production = Object.fromEntries(
      Object.entries(lock.packages).filter(([key, entry]) => key === '' || !entry.dev),
    );
    const tagged = unpinnedTags({ packages: production }, {}).filter(({ parent }) => parent !== '');
    expect(tagged).toEqual([]);
  });
});
