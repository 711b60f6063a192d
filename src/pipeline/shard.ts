/** FNV-1a 32-bit hash: stable across machines, runs and Node versions. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The shard (0 … count − 1) an image id belongs to when the dataset is cut into `count`. */
export function shardOf(id: string, count: number): number {
  return fnv1a(id) % count;
}

/** True when the image id belongs to shard `index` of `count` (same answer on every machine). */
export function inShard(id: string, shard: { index: number; count: number } | undefined): boolean {
  if (!shard || shard.count === 1) return true;
  return shardOf(id, shard.count) === shard.index;
}
