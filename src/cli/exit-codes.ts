/** Exit codes (SPEC §2). */
export const EXIT = Object.freeze({
  ok: 0,
  /** Usage or configuration error. */
  usage: 1,
  /** Fatal runtime error. */
  fatal: 2,
  /** Finished, but some items failed (each is an error row). */
  partial: 3,
  /** Stopped by Ctrl-C (SIGINT) after the batches in flight; `--resume` continues. */
  interrupted: 130,
  /** Stopped by SIGTERM after the batches in flight; `--resume` continues. */
  terminated: 143,
} as const);

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
