/**
 * What must be written before a second Ctrl-C or SIGTERM ends the process at once (the
 * signal is raised again with its default action, so no exit handler runs): a run's journal
 * notes that it was stopped, so that `--resume` does not take the stop for a crash.
 */
const hooks = new Set<() => void>();

/** Runs `hook` (synchronously) on a hard stop until the returned function is called. */
export function onHardStop(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

export function runHardStopHooks(): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // the process ends next: nothing to report to
    }
  }
}
