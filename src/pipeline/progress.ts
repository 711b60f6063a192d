import type { Logger } from '../core/logger.js';

export interface Progress {
  update(done: number, failed: number): void;
  finish(): void;
}

export interface ProgressOptions {
  /** Images this run will caption (unknown: undefined). */
  total: number | undefined;
  /** Draw a bar that redraws in place (stderr is a terminal). */
  interactive: boolean;
  logger: Logger;
  write?: (text: string) => void;
  /** Plain mode: at most one line per this many milliseconds. */
  intervalMs?: number;
  now?: () => number;
}

/** A progress bar with images/s and ETA on a terminal; plain periodic lines otherwise. */
export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? (() => performance.now());
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const started = now();
  const interval = options.intervalMs ?? 15_000;
  let lastPlain = started;
  let lastDone = 0;
  let lastFailed = 0;
  let drawn = false;

  const line = (done: number, failed: number): string => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const total = options.total;
    const eta = total !== undefined && rate > 0 ? formatDuration((total - done) / rate) : '?';
    const count = total !== undefined ? `${done}/${total}` : `${done}`;
    const failures = failed > 0 ? `, ${failed} failed` : '';
    return `${count} images, ${rate.toFixed(2)} img/s, elapsed ${formatDuration(seconds)}, ETA ${eta}${failures}`;
  };

  return {
    update(done, failed) {
      lastDone = done;
      lastFailed = failed;
      if (options.interactive) {
        const total = options.total;
        const width = 24;
        const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
        const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
        write(`\r\u001b[2K${bar}${line(done, failed)}`);
        drawn = true;
        return;
      }
      if (now() - lastPlain >= interval) {
        lastPlain = now();
        options.logger.info(`progress: ${line(done, failed)}`);
      }
    },
    finish() {
      if (drawn) write(`\r\u001b[2K${line(lastDone, lastFailed)}\n`);
    },
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}
