import { describe, expect, it } from 'vitest';
import { InFlightGauge } from './in-flight.js';

describe('InFlightGauge', () => {
  it('keeps the most requests at once and the time-weighted mean', () => {
    let now = 0;
    const gauge = new InFlightGauge(() => now);
    expect([gauge.max, gauge.mean]).toEqual([0, 0]);
    gauge.start(); // 1 in flight from t=0
    now = 10;
    gauge.start(); // 2 from t=10
    gauge.start(); // 3 from t=10
    now = 20;
    gauge.end(); // 2 from t=20
    now = 40;
    gauge.end();
    gauge.end(); // 0 from t=40
    // (1 * 10 + 3 * 10 + 2 * 20) / 40
    expect(gauge.max).toBe(3);
    expect(gauge.mean).toBeCloseTo(2, 10);
  });
});
