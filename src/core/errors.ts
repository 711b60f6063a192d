/**
 * Error classes. Every user-facing failure is a CaptionToolError with a stable `code`;
 * the CLI maps them to exit codes. A failure on one image never throws past the run:
 * it becomes a row with status=error.
 */
export class CaptionToolError extends Error {
  readonly code: string;

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'MEDCAP_ERROR';
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false });
  }
}

/** Bad option, bad config file, unknown id: exit code 1. */
export class ConfigError extends CaptionToolError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'CONFIG', cause: options.cause });
  }
}

/** The dataset cannot be read at all (missing caption file, unknown layout). */
export class DatasetError extends CaptionToolError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'DATASET', cause: options.cause });
  }
}

/** A problem with one image (corrupt, missing, too large). Becomes an error row. */
export class ImageError extends CaptionToolError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'IMAGE', cause: options.cause });
  }
}

export class EngineError extends CaptionToolError {
  /** A retry of the same request may succeed (429, 5xx, network). */
  readonly retryable: boolean;
  /** The batch did not fit in memory: the run halves the batch and retries the same items. */
  readonly outOfMemory: boolean;
  /**
   * No image can succeed until someone fixes this (key refused, model gone, server dead):
   * the run stops with its images unjournaled, so that `--resume` captions them later.
   */
  readonly stopsRun: boolean;

  constructor(
    message: string,
    options: {
      code?: string;
      cause?: unknown;
      retryable?: boolean;
      outOfMemory?: boolean;
      stopsRun?: boolean;
    } = {},
  ) {
    super(message, { code: options.code ?? 'ENGINE', cause: options.cause });
    this.retryable = options.retryable ?? false;
    this.outOfMemory = options.outOfMemory ?? false;
    this.stopsRun = options.stopsRun ?? false;
  }
}

export class MetricError extends CaptionToolError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'METRIC', cause: options.cause });
  }
}

/** An output file or folder cannot be written (disk full, file size limit, read-only). */
export class OutputError extends CaptionToolError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'OUTPUT', cause: options.cause });
  }
}

/** A bug in medcap, not in the user's input. */
export class InternalError extends CaptionToolError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'INTERNAL', cause: options.cause });
  }
}

export function isCaptionToolError(error: unknown): error is CaptionToolError {
  return error instanceof CaptionToolError;
}

/** Message of any thrown value, for error rows and logs. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Out-of-memory errors as ONNX Runtime, CUDA, WebGPU and V8 word them. */
export function looksLikeOutOfMemory(error: unknown): boolean {
  if (error instanceof EngineError) return error.outOfMemory;
  const text = describeError(error).toLowerCase();
  return /out of memory|outofmemory|oom\b|failed to allocate|bad_alloc|cudaerrormemoryallocation|allocation failed/.test(
    text,
  );
}
