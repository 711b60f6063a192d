import { type CliDeps, main } from '../../src/cli/main.js';
import { FakeEngine } from './fake-engine.js';

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

export interface FakeCliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Let the command build its own engine instead of the FakeEngine. */
  realEngine?: boolean;
}

/**
 * runMain with the FakeEngine, an empty environment and `defaultCwd()` as the working
 * directory unless the call says otherwise: the CLI as the configuration tests run it.
 */
export function fakeEngineCli(defaultCwd: () => string) {
  return (argv: string[], options: FakeCliOptions = {}) =>
    runMain(argv, {
      ...(options.realEngine ? {} : { engine: new FakeEngine() }),
      env: options.env ?? {},
      cwd: options.cwd ?? defaultCwd(),
    });
}
