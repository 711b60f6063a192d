import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatDuration,
  formatInteger,
  formatMetric,
  formatPValue,
  formatSigned,
} from './format.js';

describe('report formatting', () => {
  it('formats metrics, integers and missing values', () => {
    expect(formatMetric(0.123456)).toBe('0.1235');
    expect(formatMetric(null)).toBe('—');
    expect(formatMetric(Number.NaN)).toBe('—');
    expect(formatInteger(60000)).toBe('60,000');
    expect(formatInteger(1234567.4)).toBe('1,234,567');
  });

  it('formats sizes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3.2 * 1024 ** 3)).toBe('3.20 GiB');
    expect(formatBytes(150 * 1024 ** 2)).toBe('150 MiB');
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(4.4)).toBe('4.40 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(6600)).toBe('1 h 50 min');
  });

  it('formats p-values and signed differences', () => {
    expect(formatPValue(0.0004)).toBe('< 0.001');
    expect(formatPValue(0.0412)).toBe('0.041');
    expect(formatSigned(0.01)).toBe('+0.0100');
    expect(formatSigned(-0.01)).toBe('−0.0100');
  });
});
