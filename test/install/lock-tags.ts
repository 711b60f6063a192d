/**
 * Finds dependencies that package-lock.json requests by a dist-tag (`latest`, `next`, ...).
 * A range or `*` stays satisfied by the locked version when a new release comes out; a tag
 * does not, and `npm ci` then refuses the lock ("lock file's tar@7.5.23 does not satisfy
 * tar@8.0.4"). A tag is harmless only where package.json's `overrides` replaces it with a
 * range for that parent, the way npm applies overrides.
 */

export type SpecKind = 'range' | 'tag' | 'alias' | 'url' | 'git' | 'file';

const GIT = /^(?:git\+[a-z]+:|git:|github:|gitlab:|bitbucket:|gist:)/i;
const URL_SPEC = /^https?:\/\//i;
const FILE = /^(?:file:|link:|\.{1,2}(?:\/|$)|\/|~\/)/;
/** `owner/repo` or `owner/repo#ref`: npm's GitHub shorthand. */
const GITHUB_SHORTHAND = /^[\w.-]+\/[\w.-]+(?:#.*)?$/;

/** What npm makes of a dependency's spec (the value in `"tar": "latest"`). */
export function specKind(spec: string): SpecKind {
  const value = spec.trim();
  if (value.startsWith('npm:')) return 'alias';
  if (GIT.test(value)) return 'git';
  if (URL_SPEC.test(value)) return value.includes('.git') ? 'git' : 'url';
  if (FILE.test(value)) return 'file';
  if (isRange(value)) return 'range';
  if (GITHUB_SHORTHAND.test(value)) return 'git';
  return 'tag';
}

/** The spec an `npm:name@spec` alias requests (`npm:foo` alone means `foo@latest`). */
export function aliasTarget(spec: string): string {
  const rest = spec.trim().slice('npm:'.length);
  const at = rest.indexOf('@', rest.startsWith('@') ? 1 : 0);
  return at < 0 ? 'latest' : rest.slice(at + 1);
}

/** True when the spec asks for a dist-tag, directly or through an alias. */
export function isTagSpec(spec: string): boolean {
  const kind = specKind(spec);
  if (kind === 'alias') return isTagSpec(aliasTarget(spec));
  return kind === 'tag';
}

const PART = String.raw`(?:\*|x|X|0|[1-9]\d*)`;
const PRE = String.raw`(?:-?[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)`;
const BUILD = String.raw`(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)`;
const PARTIAL = String.raw`v?${PART}(?:\.${PART}(?:\.${PART}${PRE}?${BUILD}?)?)?`;
const COMPARATOR = new RegExp(String.raw`^(?:[<>]=?|=|~>?|\^)?${PARTIAL}$`);
const HYPHEN = new RegExp(String.raw`^${PARTIAL}\s+-\s+${PARTIAL}$`);

/** A semver range as node-semver reads it: `*`, `''`, `^1.2`, `>=1 <2 || 3.x`, `1 - 2`. */
export function isRange(spec: string): boolean {
  return spec.split('||').every((alternative) => {
    const set = alternative.trim().replace(/([<>]=?|=|~>?|\^)\s+/g, '$1');
    if (set === '') return true;
    if (HYPHEN.test(set)) return true;
    return set.split(/\s+/).every((comparator) => COMPARATOR.test(comparator));
  });
}

export interface LockPackage {
  version?: string;
  /** Installed only for development (not for the projects that install medcap). */
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface Lockfile {
  packages: Record<string, LockPackage>;
}

export interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  overrides?: Overrides;
}

export type Overrides = { [key: string]: string | Overrides };

export interface TagRequest {
  /** The requesting package's lockfile key (`node_modules/some-package`; `''` = root). */
  parent: string;
  name: string;
  spec: string;
}

/** Name of the package at a lockfile key: `node_modules/a/node_modules/@s/b` → `@s/b`. */
export function packageName(key: string): string {
  const at = key.lastIndexOf('node_modules/');
  return at < 0 ? '' : key.slice(at + 'node_modules/'.length);
}

/** Every dependency requested by a tag that no override pins to a range. */
export function unpinnedTags(lock: Lockfile, manifest: PackageJson): TagRequest[] {
  const graph = dependencyGraph(lock);
  const versions = lockedVersions(lock);
  const found: TagRequest[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key !== '' && !key.includes('node_modules/')) continue; // workspace links
    const parent = key === '' ? '' : packageName(key);
    for (const [name, spec] of Object.entries(requests(entry, key === ''))) {
      if (!isTagSpec(spec)) continue;
      // npm does not let overrides replace the root's own dependencies.
      const pinned =
        key !== '' &&
        overridePins(manifest.overrides ?? {}, parent, name, manifest, graph, versions);
      if (!pinned) found.push({ parent: key, name, spec });
    }
  }
  return found;
}

function requests(entry: LockPackage, isRoot: boolean): Record<string, string> {
  return {
    ...entry.peerDependencies,
    ...entry.optionalDependencies,
    ...entry.dependencies,
    ...(isRoot ? entry.devDependencies : {}),
  };
}

/** name → names it depends on (by name; the lock's hoisting does not change who asked). */
function dependencyGraph(lock: Lockfile): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    const name = packageName(key);
    const edges = graph.get(name) ?? new Set<string>();
    for (const dependency of Object.keys(requests(entry, key === ''))) edges.add(dependency);
    graph.set(name, edges);
  }
  return graph;
}

function lockedVersions(lock: Lockfile): Map<string, Set<string>> {
  const versions = new Map<string, Set<string>>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!entry.version) continue;
    const name = packageName(key);
    versions.set(name, (versions.get(name) ?? new Set()).add(entry.version));
  }
  return versions;
}

/** `tar`, `tar@7`, `@scope/pkg@^1` → name and version selector. */
function splitKey(key: string): { name: string; selector?: string } {
  const at = key.indexOf('@', key.startsWith('@') ? 1 : 0);
  return at < 0 ? { name: key } : { name: key.slice(0, at), selector: key.slice(at + 1) };
}

/**
 * A selector on an override key (`"tar@7"`) is honoured only when it is `*` or names a
 * locked version exactly: without node-semver here, anything else counts as "not matched",
 * which errs toward reporting the tag.
 */
function keyMatches(key: string, name: string, versions: Map<string, Set<string>>): boolean {
  const { name: keyName, selector } = splitKey(key);
  if (keyName !== name) return false;
  if (selector === undefined || selector === '*' || selector === '') return true;
  return versions.get(name)?.has(selector) === true;
}

/**
 * True when every path from the root to `target` goes through `scope`: only then does a rule
 * nested under `scope` reach `target` whichever way npm places it.
 */
function dominates(graph: Map<string, Set<string>>, scope: string, target: string): boolean {
  return scope === target || !reaches(graph, '', target, scope);
}

function reaches(
  graph: Map<string, Set<string>>,
  from: string,
  to: string,
  avoiding?: string,
): boolean {
  const seen = new Set<string>(avoiding === undefined ? [] : [avoiding]);
  const queue = [from];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (name === to) return true;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const next of graph.get(name) ?? []) queue.push(next);
  }
  return false;
}

/** The value an override gives, with `$name` read from the root's own dependencies. */
function resolveOverride(value: string, manifest: PackageJson): string | undefined {
  if (!value.startsWith('$')) return value;
  const name = value.slice(1);
  return (
    manifest.dependencies?.[name] ??
    manifest.devDependencies?.[name] ??
    manifest.optionalDependencies?.[name]
  );
}

function pinsToRange(value: string | Overrides | undefined, manifest: PackageJson): boolean {
  if (value === undefined) return false;
  // `{ "tar": { ".": "^7" } }`: the "." entry is the override for tar itself.
  const own = typeof value === 'string' ? value : value['.'];
  if (typeof own !== 'string') return false;
  const resolved = resolveOverride(own, manifest);
  return resolved !== undefined && !isTagSpec(resolved);
}

/**
 * True when some rule replaces `name`'s spec under `parent` with a range: a top-level rule
 * for `name`, or one nested under packages that lead, in that order, down to `parent` and
 * stand on every path from the root to it.
 */
function overridePins(
  rules: Overrides,
  parent: string,
  name: string,
  manifest: PackageJson,
  graph: Map<string, Set<string>>,
  versions: Map<string, Set<string>>,
  ancestor = '',
): boolean {
  for (const [key, value] of Object.entries(rules)) {
    if (key === '.') continue;
    if (keyMatches(key, name, versions) && pinsToRange(value, manifest)) return true;
    if (typeof value === 'string') continue;
    const scope = splitKey(key).name;
    const onEveryPath = reaches(graph, ancestor, scope) && dominates(graph, scope, parent);
    if (onEveryPath && overridePins(value, parent, name, manifest, graph, versions, scope)) {
      return true;
    }
  }
  return false;
}
