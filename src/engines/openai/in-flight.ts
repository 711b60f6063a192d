/**
 * Counts requests in flight and how many there were on average over time, from the first
 * request sent to the last one answered (what `--concurrency` really achieved).
 */
export class InFlightGauge {
  private current = 0;
  private peak = 0;
  private area = 0;
  private firstAt: number | undefined;
  private lastAt = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  start(): void {
    this.advance();
    this.current += 1;
    this.peak = Math.max(this.peak, this.current);
  }

  end(): void {
    this.advance();
    this.current -= 1;
  }

  get max(): number {
    return this.peak;
  }

  /** Time-weighted mean of the count while requests were being made (0 before any). */
  get mean(): number {
    if (this.firstAt === undefined) return 0;
    const span = this.lastAt - this.firstAt;
    return span > 0 ? this.area / span : this.current;
  }

  private advance(): void {
    const now = this.now();
    if (this.firstAt === undefined) this.firstAt = now;
    else this.area += this.current * (now - this.lastAt);
    this.lastAt = now;
  }
}
