import { type CliDeps, main } from '../../src/cli/main.js';

/** What main() left: its exit code, and what it wrote to stderr and stdout. */
export interface MainOutcome {
  code: number;
  err: string;
  out: string;
}

/**
 * Runs the CLI's main() in this process with `deps` (environment, working directory, an
 * engine), collecting what it writes instead of printing it.
 */
export async function runMain(
  argv: string[],
  deps: Omit<CliDeps, 'writeErr' | 'writeOut'> = {},
): Promise<MainOutcome> {
  const err: string[] = [];
  const out: string[] = [];
  const code = await main(argv, {
    ...deps,
    writeErr: (text) => err.push(text),
    writeOut: (text) => out.push(text),
  });
  return { code, err: err.join(''), out: out.join('') };
}
