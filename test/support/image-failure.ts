import { expect } from 'vitest';
import { ImageError } from '../../src/core/errors.js';

/** The message of the ImageError `promise` rejects with (the test fails if it does not). */
export async function imageFailure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  return (error as Error).message;
}
