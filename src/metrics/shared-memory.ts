/**
 * Typed arrays in shared memory, which worker threads read and write in place, and the
 * chunk claims by which several threads share one job.
 */

/** A zero-filled typed array of `length` elements over a SharedArrayBuffer of its own. */
export function sharedArray<T>(
  Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Type(new SharedArrayBuffer(Math.max(1, length) * Type.BYTES_PER_ELEMENT));
}

/** `values` copied into shared memory. */
export function sharedCopy(values: Int32Array): Int32Array {
  const out = sharedArray(Int32Array, values.length);
  out.set(values);
  return out;
}

/**
 * The claims of a job of `chunks` chunks: [0] is the next chunk to claim, [1 + c] is 1 once
 * chunk c is done. Each thread claims the next chunk until none is left (runClaimedChunks);
 * once the others have answered or died, one thread does the chunks claimed and never done
 * (runLeftoverChunks).
 */
export function createClaims(chunks: number): Int32Array {
  return sharedArray(Int32Array, 1 + chunks);
}

export const chunkCount = (claims: Int32Array) => claims.length - 1;

/**
 * Claims chunks and runs them until none is left, or `limit` chunks were run; true once
 * none is left.
 */
export function runClaimedChunks(
  claims: Int32Array,
  run: (chunk: number) => void,
  limit = Number.POSITIVE_INFINITY,
): boolean {
  const chunks = chunkCount(claims);
  for (let done = 0; done < limit; done++) {
    const c = Atomics.add(claims, 0, 1);
    if (c >= chunks) return true;
    run(c);
    Atomics.store(claims, 1 + c, 1);
  }
  return Atomics.load(claims, 0) >= chunks;
}

/** Runs, here, the chunks that a thread claimed and did not finish (it died). */
export function runLeftoverChunks(claims: Int32Array, run: (chunk: number) => void): void {
  for (let c = 0; c < chunkCount(claims); c++) {
    if (Atomics.load(claims, 1 + c) === 1) continue;
    run(c);
    Atomics.store(claims, 1 + c, 1);
  }
}
