/** At most `limit` holders at a time; the others wait in arrival order. */
export class Semaphore {
  private held = 0;
  private max: number;
  private readonly waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`semaphore limit must be a positive whole number, got ${limit}`);
    }
    this.max = limit;
  }

  get limit(): number {
    return this.max;
  }

  get inUse(): number {
    return this.held;
  }

  /** Lowers the limit (never below 1); holders over it keep their slots until they release. */
  lower(limit: number): void {
    this.max = Math.max(1, Math.min(this.max, Math.floor(limit)));
  }

  async acquire(): Promise<void> {
    if (this.held < this.max) {
      this.held += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiter, or frees it (always, while over a lowered limit). */
  release(): void {
    const next = this.held > this.max ? undefined : this.waiting.shift();
    if (next) next();
    else this.held -= 1;
  }
}
