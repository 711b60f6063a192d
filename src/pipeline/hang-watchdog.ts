/**
 * Ends a run whose engine is stuck on one batch. The embedded engine runs ONNX Runtime
 * synchronously on the main thread, so a hang there (a GPU driver that never answers, a
 * kernel that never ends) blocks every timer of that thread: the watchdog runs in a thread
 * of its own. When a batch has been in the engine longer than its limit, it says so on
 * stderr and kills the process as a crash would end it (SIGKILL). The journal then reads as
 * an abrupt end with those images in the engine, so `--resume` tries each of them alone and
 * makes one that hangs alone again an error row (crash-suspects.ts), and the rest finish.
 */
import { Worker } from 'node:worker_threads';

/** A batch may take this many times the slowest batch so far, whatever the limit says. */
export const SLOWEST_BATCH_FACTOR = 10;

export interface HangWatchdog {
  /** A batch of these images goes to the engine now. */
  enter(ids: readonly string[]): void;
  /** The batch came back. */
  leave(): void;
  stop(): void;
}

/** What the watchdog thread is sent: a deadline and its message, or none (`null`). */
type ToWatchdog = { ms: number; message: string; json: boolean } | null;

// CommonJS, as an `eval` worker runs it. Time is counted in ticks of a second: a longer gap
// between two ticks means the whole process was stopped (Ctrl-Z, a scheduler suspending the
// job, a laptop asleep), and that time is not held against the batch.
const WATCHDOG_CODE = `
const { parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const TICK = 1000;
let deadline = null;
let awake = 0;
let last = 0;
let ticker;
parentPort.on('message', (message) => {
  clearInterval(ticker);
  deadline = message;
  if (deadline === null) return;
  awake = 0;
  last = performance.now();
  ticker = setInterval(() => {
    const now = performance.now();
    if (now - last < 5 * TICK) awake += now - last;
    last = now;
    if (awake < deadline.ms) return;
    const { message, json } = deadline;
    const line = json
      ? JSON.stringify({ time: new Date().toISOString(), level: 'error', message })
      : 'error: ' + message;
    try { writeSync(2, line + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }, Math.min(TICK, deadline.ms));
});
`;

/** How long a batch may take: the limit, or SLOWEST_BATCH_FACTOR × the slowest batch so far. */
export function batchLimitMs(limitSeconds: number, slowestMs: number): number {
  return Math.max(limitSeconds * 1000, SLOWEST_BATCH_FACTOR * slowestMs);
}

const NO_WATCHDOG: HangWatchdog = { enter() {}, leave() {}, stop() {} };

/**
 * A watchdog that allows each batch `limitSeconds`, or SLOWEST_BATCH_FACTOR times the
 * slowest batch so far if that is more; none when `limitSeconds` is 0. Its last words are
 * a log line as the CLI's logger writes them (`--log-format`).
 */
export function startHangWatchdog(
  limitSeconds: number,
  logFormat: 'text' | 'json' = 'text',
): HangWatchdog {
  if (limitSeconds <= 0) return NO_WATCHDOG;
  let worker: Worker;
  try {
    worker = new Worker(WATCHDOG_CODE, { eval: true });
  } catch {
    return NO_WATCHDOG;
  }
  // It must never keep the process alive, nor take it down if it fails itself.
  worker.unref();
  worker.on('error', () => {});
  let slowestMs = 0;
  let enteredAt = 0;
  const post = (message: ToWatchdog) => worker.postMessage(message);
  return {
    enter(ids) {
      enteredAt = performance.now();
      const ms = batchLimitMs(limitSeconds, slowestMs);
      const shown =
        ids.length > 10
          ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more`
          : ids.join(', ');
      post({
        ms,
        json: logFormat === 'json',
        message:
          `the engine has been captioning one batch (${shown}) for ` +
          `${Math.round(ms / 1000)} s (--batch-timeout ${limitSeconds}): stopping the run as ` +
          'hung. `--resume` tries these images one at a time; one that hangs again alone ' +
          'becomes an error row, and the rest finish.',
      });
    },
    leave() {
      slowestMs = Math.max(slowestMs, performance.now() - enteredAt);
      post(null);
    },
    stop() {
      void worker.terminate();
    },
  };
}
