import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('after lower(), lets waiters in only once the holders are under the new limit', async () => {
    const slots = new Semaphore(4);
    for (let i = 0; i < 4; i++) await slots.acquire();
    const entered: number[] = [];
    const waiters = [0, 1, 2].map((i) => slots.acquire().then(() => entered.push(i)));
    slots.lower(2);
    expect(slots.limit).toBe(2);
    slots.release();
    slots.release();
    await Promise.resolve();
    expect(entered).toEqual([]);
    expect(slots.inUse).toBe(2);
    slots.release();
    await waiters[0];
    expect(entered).toEqual([0]);
    expect(slots.inUse).toBe(2);
    slots.lower(0);
    expect(slots.limit).toBe(1);
  });
});
