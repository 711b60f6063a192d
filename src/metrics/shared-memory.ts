/** Typed arrays in shared memory: worker threads read and write them in place. */

/** A zero-filled typed array of `length` elements over a SharedArrayBuffer of its own. */
export function sharedArray<T>(
  Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Type(new SharedArrayBuffer(Math.max(1, length) * Type.BYTES_PER_ELEMENT));
}
