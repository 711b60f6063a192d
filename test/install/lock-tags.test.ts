import { describe, expect, it } from 'vitest';
import {
  aliasTarget,
  isRange,
  isTagSpec,
  type Lockfile,
  packageName,
  specKind,
  unpinnedTags,
} from './lock-tags.js';

describe('specKind', () => {
  it('tells ranges from tags', () => {
    for (const range of [
      '*',
      '',
      'x',
      '1.2.3',
      'v1.2.3',
      '^7.5.23',
      '~1.2',
      '>=1.0.0 <2',
      '>= 1.0.0',
      '1.x || ^2.0.0-beta.1',
      '1.2.3 - 2.0.0',
      '1.0.0-rc.1+build.5',
    ]) {
      expect(specKind(range), range).toBe('range');
    }
    for (const tag of ['latest', 'next', 'beta', 'canary', 'legacy-peer', 'v1x']) {
      expect(specKind(tag), tag).toBe('tag');
    }
  });

  it('knows urls, git, files and aliases', () => {
    expect(specKind('https://example.org/pkg.tgz')).toBe('url');
    expect(specKind('git+https://github.com/a/b.git#v1')).toBe('git');
    expect(specKind('github:isaacs/node-tar')).toBe('git');
    expect(specKind('isaacs/node-tar#main')).toBe('git');
    expect(specKind('file:../local')).toBe('file');
    expect(specKind('./vendor/x')).toBe('file');
    expect(specKind('npm:tar@^7')).toBe('alias');
  });

  it('follows aliases to what they ask for', () => {
    expect(aliasTarget('npm:tar@^7')).toBe('^7');
    expect(aliasTarget('npm:@scope/pkg@next')).toBe('next');
    expect(aliasTarget('npm:tar')).toBe('latest');
    expect(isTagSpec('npm:tar@^7')).toBe(false);
    expect(isTagSpec('npm:@scope/pkg@next')).toBe(true);
    expect(isTagSpec('npm:tar')).toBe(true);
    expect(isTagSpec('file:../x')).toBe(false);
    expect(isTagSpec('latest')).toBe(true);
  });

  it('rejects what node-semver would not read as a range', () => {
    expect(isRange('1.2.3.4')).toBe(false);
    expect(isRange('>=latest')).toBe(false);
    expect(isRange('01.2.3')).toBe(false);
  });
});

function lockWith(extra: Lockfile['packages'] = {}): Lockfile {
  return {
    packages: {
      '': { dependencies: { other: '^1.0.0', unrelated: '^1.0.0' } },
      'node_modules/other': { version: '1.0.0', dependencies: { words: '^3.0.0' } },
      'node_modules/words': { version: '3.0.2', dependencies: { tar: 'latest' } },
      'node_modules/tar': { version: '7.5.23' },
      'node_modules/unrelated': { version: '1.0.0' },
      ...extra,
    },
  };
}

describe('unpinnedTags', () => {
  it('reports a tag nobody pins, naming parent, package and tag', () => {
    expect(unpinnedTags(lockWith(), {})).toEqual([
      { parent: 'node_modules/words', name: 'tar', spec: 'latest' },
    ]);
  });

  it('accepts a nested override for that parent, or for an ancestor of it', () => {
    expect(unpinnedTags(lockWith(), { overrides: { words: { tar: '^7.5.23' } } })).toEqual([]);
    expect(unpinnedTags(lockWith(), { overrides: { other: { words: { tar: '^7' } } } })).toEqual(
      [],
    );
  });

  it('accepts a top-level override, a "." entry and a $name reference', () => {
    expect(unpinnedTags(lockWith(), { overrides: { tar: '^7.5.23' } })).toEqual([]);
    expect(unpinnedTags(lockWith(), { overrides: { tar: { '.': '7.5.23' } } })).toEqual([]);
    expect(
      unpinnedTags(lockWith(), {
        dependencies: { tar: '^7.5.23' },
        overrides: { words: { tar: '$tar' } },
      }),
    ).toEqual([]);
  });

  it('does not accept an override elsewhere, to a tag, or a dangling $name', () => {
    const report = [{ parent: 'node_modules/words', name: 'tar', spec: 'latest' }];
    expect(unpinnedTags(lockWith(), { overrides: { unrelated: { tar: '^7' } } })).toEqual(report);
    // words is also reached without going through other: other's rule does not cover that path.
    const direct = lockWith({ '': { dependencies: { other: '^1.0.0', words: '^3.0.0' } } });
    expect(unpinnedTags(direct, { overrides: { other: { tar: '^7' } } })).toEqual(report);
    expect(unpinnedTags(direct, { overrides: { words: { tar: '^7' } } })).toEqual([]);
    expect(unpinnedTags(lockWith(), { overrides: { tar: 'latest' } })).toEqual(report);
    expect(unpinnedTags(lockWith(), { overrides: { words: { tar: '$tar' } } })).toEqual(report);
    expect(unpinnedTags(lockWith(), { overrides: { 'tar@8.0.0': '^7' } })).toEqual(report);
    expect(unpinnedTags(lockWith(), { overrides: { 'tar@7.5.23': '^7' } })).toEqual([]);
  });

  it("reports the root's own tags, which overrides cannot replace", () => {
    const lock = lockWith({ '': { devDependencies: { tar: 'next' } } });
    expect(unpinnedTags(lock, { overrides: { tar: '^7' } })).toEqual([
      { parent: '', name: 'tar', spec: 'next' },
    ]);
  });

  it('reads nested and scoped lockfile keys', () => {
    expect(packageName('node_modules/a/node_modules/@s/b')).toBe('@s/b');
    expect(packageName('')).toBe('');
    const lock = lockWith({
      'node_modules/words/node_modules/@s/b': {
        version: '1.0.0',
        optionalDependencies: { c: 'beta' },
      },
    });
    expect(unpinnedTags(lock, { overrides: { tar: '^7' } })).toEqual([
      { parent: 'node_modules/words/node_modules/@s/b', name: 'c', spec: 'beta' },
    ]);
  });
});
