/** The library is silent unless given a logger; the CLI passes one that writes to stderr. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface StreamLoggerOptions {
  write?: (line: string) => void;
  json?: boolean;
  level?: Level;
  color?: boolean;
}

/** Human-readable (or JSON-lines) logger for the CLI. Respects NO_COLOR. */
export function createStreamLogger(options: StreamLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const min = LEVELS[options.level ?? 'info'];
  const color = options.color ?? (process.stderr.isTTY === true && !process.env.NO_COLOR);
  const paint: Record<Level, string> = { debug: '90', info: '36', warn: '33', error: '31' };

  const log = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    if (options.json) {
      write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
      return;
    }
    const tag = level === 'info' ? '' : `${level}: `;
    const text = color && tag ? `\u001b[${paint[level]}m${tag}\u001b[0m${message}` : tag + message;
    write(`${text}\n`);
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}
