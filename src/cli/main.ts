import { Command, CommanderError, Option } from 'commander';
import { loadConfig, peekConfigFile } from '../config/load.js';
import {
  CAPTION_OPTIONS,
  COMMON_OPTIONS,
  EVALUATE_OPTIONS,
  flagName,
  OFFLINE_OPTION,
  type OptionSpec,
} from '../config/schema.js';
import { CaptionToolError, ConfigError, describeError, InternalError } from '../core/errors.js';
import { withFolderCleanup } from '../core/files.js';
import { createStreamLogger, type Logger } from '../core/logger.js';
import type { CaptionEngine } from '../engines/types.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { optionHelp } from './help.js';

export interface CliDeps {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where log lines go (default: stderr). */
  writeErr?: (text: string) => void;
  /** Where data goes (default: stdout). */
  writeOut?: (text: string) => void;
  /** Use this engine instead of the one `--engine` names (library embedding, tests). */
  engine?: CaptionEngine;
}

export interface CommandContext {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  writeOut: (text: string) => void;
  /** True when stderr is a terminal (progress bar instead of plain lines). */
  interactive: boolean;
  engine?: CaptionEngine;
  /** Option keys set by a flag, the environment or the config file (the rest are defaults). */
  given?: ReadonlySet<string>;
}

type Handler = (
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
) => Promise<ExitCode>;

interface CommandSpec {
  name: string;
  args?: string;
  summary: string;
  options: OptionSpec[];
  load: () => Promise<Handler>;
}

/**
 * The caption options that batch files use: those that choose the images and shape each
 * request. The ones that run an engine (device, batch size, checkpoints, servers, resume)
 * would be accepted there and do nothing.
 */
const BATCH_FILE_KEYS: ReadonlySet<string> = new Set([
  ...['data', 'format', 'limit', 'shard', 'frame', 'window', 'prefetch', 'overwrite'],
  ...['model', 'prompt', 'maxNewTokens', 'imageSize', 'minPixels', 'maxPixels', 'imageEncoding'],
]);
const BATCH_FILE_OPTIONS = CAPTION_OPTIONS.filter((option) => BATCH_FILE_KEYS.has(option.key));

/** `options` with the help of `key` saying what the command takes when it is not given. */
function withDefaultNote(options: OptionSpec[], key: string, note: string): OptionSpec[] {
  return options.map((option) => (option.key === key ? { ...option, defaultNote: note } : option));
}

const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    summary: 'caption, evaluate and report in one go',
    options: [
      ...COMMON_OPTIONS,
      ...CAPTION_OPTIONS,
      ...EVALUATE_OPTIONS.filter((o) => o.key !== 'captions'),
    ],
    load: async () => (await import('./commands/run.js')).runCommand,
  },
  {
    name: 'caption',
    summary: 'caption the images of a dataset',
    options: [...COMMON_OPTIONS, ...CAPTION_OPTIONS],
    load: async () => (await import('./commands/caption.js')).captionCommand,
  },
  {
    name: 'evaluate',
    summary: 'score captions against references',
    options: [
      ...withDefaultNote(
        COMMON_OPTIONS,
        'split',
        "the split the captions file's name gives, else train",
      ),
      ...EVALUATE_OPTIONS,
      OFFLINE_OPTION,
    ],
    load: async () => (await import('./commands/evaluate.js')).evaluateCommand,
  },
  {
    name: 'report',
    args: '<dir>',
    summary: 'write medical_{split}_report.html into DIR',
    options: withDefaultNote(
      COMMON_OPTIONS.filter((o) => o.key !== 'out'),
      'split',
      'the one split DIR holds; with several, name one',
    ),
    load: async () => (await import('./commands/report.js')).reportCommand,
  },
  {
    name: 'compare',
    args: '<dirA> <dirB>',
    summary: 'paired comparison of two runs on the same images',
    options: [...COMMON_OPTIONS, ...EVALUATE_OPTIONS.filter((o) => o.key === 'seed')],
    load: async () => (await import('./commands/compare.js')).compareCommand,
  },
  {
    name: 'merge',
    args: '<dirs...>',
    summary: 'merge shard outputs, exactly once per image',
    options: COMMON_OPTIONS,
    load: async () => (await import('./commands/merge.js')).mergeCommand,
  },
  {
    name: 'export-batch',
    summary: 'write OpenAI batch JSONL (one request per image)',
    options: [...COMMON_OPTIONS, ...BATCH_FILE_OPTIONS],
    load: async () => (await import('./commands/batch-files.js')).exportBatchCommand,
  },
  {
    name: 'import-batch',
    args: '<results.jsonl...>',
    summary: 'turn batch results JSONL into the captions CSV',
    options: [...COMMON_OPTIONS, ...BATCH_FILE_OPTIONS],
    load: async () => (await import('./commands/batch-files.js')).importBatchCommand,
  },
  {
    name: 'doctor',
    summary: 'what this machine can run, and the fix for what is missing',
    options: COMMON_OPTIONS.filter((o) => o.key === 'out' || o.key === 'config'),
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
  },
  {
    name: 'demo',
    summary: 'the whole pipeline on the bundled sample data, offline',
    options: [
      ...COMMON_OPTIONS.map((o) => (o.key === 'out' ? { ...o, default: 'results_demo' } : o)),
    ],
    load: async () => (await import('./commands/demo.js')).demoCommand,
  },
];

/**
 * A reader that stops early (`medcap ... | head -1`) closes the pipe: the rest of the output
 * is not wanted, which is no failure of the command. Other write errors still throw.
 */
export function ignoreClosedPipe(stream: NodeJS.WritableStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/** Parses argv, runs one command, and returns its exit code. Never calls process.exit. */
export async function main(argv: string[], deps: CliDeps = {}): Promise<ExitCode> {
  const env = deps.env ?? process.env;
  const cwd = deps.cwd ?? process.cwd();
  const writeErr = deps.writeErr ?? ((text: string) => process.stderr.write(text));
  const writeOut = deps.writeOut ?? ((text: string) => process.stdout.write(text));
  let exitCode: ExitCode = EXIT.ok;
  // Until the configuration is read (its errors need a logger), the command line, the
  // environment and a config file that parses decide the log format; then the resolved
  // settings do.
  const early = earlyLogSettings(argv, env, cwd);
  const color =
    deps.writeErr === undefined &&
    process.stderr.isTTY === true &&
    !env.NO_COLOR &&
    env.TERM !== 'dumb';
  const earlyLogger = createLogger(writeErr, early, color);

  const program = new Command('medcap')
    .description('Caption medical images with a vision-language model and score the captions.')
    .version(await packageVersion())
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      // With --log-format json every line on stderr is JSON, usage errors included.
      outputError: (text, write) =>
        early.logFormat === 'json'
          ? earlyLogger.error(text.replace(/^error: /, '').trimEnd())
          : write(text),
    });
  if (early.logFormat !== 'json') program.showHelpAfterError('(run with --help for usage)');

  for (const spec of COMMANDS) {
    const command = program
      .command(spec.args ? `${spec.name} ${spec.args}` : spec.name)
      .description(spec.summary);
    for (const option of spec.options) addOption(command, option);
    command.action(async (...actionArgs: unknown[]) => {
      const cmd = actionArgs.at(-1) as Command;
      const positional = cmd.args;
      const flags = cmd.opts();
      let logger = earlyLogger;
      // A command that fails leaves no empty folder it made (an --out, say).
      exitCode = await withFolderCleanup(
        async () => {
          try {
            const given = new Set<string>();
            const config = loadConfig({ specs: spec.options, flags, env, cwd, given });
            logger = createLogger(writeErr, config, color);
            const handler = await spec.load();
            return await handler(config, positional, {
              logger,
              env,
              cwd,
              writeOut,
              // A bar that redraws in place would break JSON lines and is not quiet.
              interactive:
                deps.writeErr === undefined &&
                process.stderr.isTTY === true &&
                env.TERM !== 'dumb' &&
                config.logFormat !== 'json' &&
                config.quiet !== true,
              ...(deps.engine ? { engine: deps.engine } : {}),
              given,
            });
          } catch (error) {
            return reportError(error, logger);
          }
        },
        (code) => code !== EXIT.ok,
      );
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(error, earlyLogger);
  }
  return exitCode;
}

function createLogger(
  write: (text: string) => void,
  settings: { logFormat?: unknown; quiet?: unknown },
  color: boolean,
): Logger {
  const quietSpec = COMMON_OPTIONS.find((o) => o.key === 'quiet');
  const quiet = quietSpec?.schema.safeParse(settings.quiet ?? false).data === true;
  return createStreamLogger({
    write,
    json: typeof settings.logFormat === 'string' && settings.logFormat.trim() === 'json',
    level: quiet ? 'warn' : 'info',
    color,
  });
}

/**
 * `--log-format` and `--quiet` before the options are parsed and checked: from the command
 * line, else the environment, else the config file if it reads as JSON (its errors are
 * reported later, by loadConfig).
 */
function earlyLogSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): { logFormat?: unknown; quiet?: unknown } {
  const flag = (name: string): string | undefined => {
    const at = argv.findLastIndex((arg) => arg === name || arg.startsWith(`${name}=`));
    if (at < 0) return undefined;
    return argv[at] === name ? argv[at + 1] : argv[at]!.slice(name.length + 1);
  };
  const quietAt = argv.findLastIndex((arg) => arg === '--quiet' || arg === '--no-quiet');
  const file = peekConfigFile(flag('--config') ?? env.MEDCAP_CONFIG, cwd);
  return {
    logFormat: flag('--log-format') ?? (env.MEDCAP_LOG_FORMAT || file.logFormat),
    quiet: quietAt >= 0 ? argv[quietAt] === '--quiet' : env.MEDCAP_QUIET || file.quiet,
  };
}

function addOption(command: Command, spec: OptionSpec): void {
  const option = new Option(spec.flag, optionHelp(spec));
  if (spec.repeatable) {
    option.argParser((value: string, previous: string[] | undefined) => [
      ...(previous ?? []),
      value,
    ]);
  } else if (spec.type.kind === 'choices') {
    // `--metrics bleu --metrics rouge` means both, not the last one only.
    option.argParser((value: string, previous: string | undefined) =>
      previous === undefined ? value : `${previous},${value}`,
    );
  }
  command.addOption(option);
  // Every switch can be turned off on the command line, over an environment or file setting.
  if (spec.type.kind === 'boolean') {
    command.addOption(new Option(`--no-${flagName(spec).slice(2)}`, `turn ${flagName(spec)} off`));
  }
}

function reportError(error: unknown, logger: Logger): ExitCode {
  if (error instanceof ConfigError) {
    logger.error(error.message);
    return EXIT.usage;
  }
  if (error instanceof InternalError || !(error instanceof CaptionToolError)) {
    logger.error(
      `internal error (a bug in medcap; please report it with this message): ${describeError(error)}`,
    );
    if (error instanceof Error && error.stack) logger.debug(error.stack);
    return EXIT.fatal;
  }
  logger.error(error.message);
  return EXIT.fatal;
}

async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const url = new URL('../../package.json', import.meta.url);
  try {
    return (JSON.parse(await readFile(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
