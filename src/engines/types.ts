import type { Logger } from '../core/logger.js';

/**
 * One image after decoding and resizing: raw interleaved RGB, 8 bits per channel, at the
 * size the model will see. Images of one batch share `width` and `height`, and so share the
 * visual-token grid, which is what lets an engine batch them without padding.
 */
export interface PreparedImage {
  /** The dataset item id. */
  id: string;
  /** Raw RGB bytes, `width * height * 3` long; empty when `encoded` carries the image. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Qwen2-VL grid in patches of 14 px: [t, h, w]. */
  gridThw: [number, number, number];
  /** Size of the image before resizing, for reports. */
  originalWidth: number;
  originalHeight: number;
  /**
   * The image as an encoded file, for engines that send files (they declare an
   * `imageEncoding`); such images come with empty `pixels` (see images/encoded.ts).
   */
  encoded?: EncodedImage;
}

/** An image file's bytes and type, as sent to a server. */
export interface EncodedImage {
  mime: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
}

/**
 * How a server engine sends images (`--image-encoding`): `auto` sends the file as it is
 * when preprocessing would leave every pixel unchanged, else a lossless PNG of the
 * prepared pixels; `png` always sends that PNG; `jpeg` a JPEG (quality 95) of them.
 */
export const IMAGE_ENCODINGS = Object.freeze(['auto', 'png', 'jpeg'] as const);
export type ImageEncoding = (typeof IMAGE_ENCODINGS)[number];

export interface GenerateOptions {
  prompt: string;
  maxNewTokens: number;
}

/**
 * The answer for one image. A failed image is a value, not an exception; a caption that
 * deserves a word (cut short by the token limit) carries it in `warning`.
 */
export type CaptionOutcome =
  | { ok: true; caption: string; warning?: string }
  | { ok: false; error: string };

export interface CaptionEngine {
  /** Registry id, e.g. `transformers` or `openai`. */
  readonly id: string;
  /** The model this engine serves, as written into the output rows. */
  readonly model: string;
  /** Device actually in use after `auto` was resolved (e.g. `cpu`, `webgpu`, `server`). */
  readonly device: string;
  /**
   * Engines that schedule requests themselves (servers) take batches of exactly this many
   * images, whatever `--batch-size` says: for the openai engine, its concurrency.
   */
  readonly batchSize?: number;
  /**
   * True when the engine's work blocks this thread (ONNX Runtime runs a session
   * synchronously): a hang there can only be ended by the hang watchdog (`--batch-timeout`),
   * which kills the process. Engines without it (servers, a library caller's async engine)
   * get no watchdog.
   */
  readonly blocksThread?: boolean;
  /**
   * Engines that send encoded files instead of raw pixels: the pipeline prepares each
   * image straight into that encoding and never hands them raw pixels.
   */
  readonly imageEncoding?: ImageEncoding;
  /**
   * Caption a whole batch. Returns one outcome per image, in the order given.
   * Throws EngineError with `outOfMemory: true` when the batch does not fit, so the run
   * can halve it and retry the same images; any other throw fails the whole batch's rows.
   */
  generate(
    batch: readonly PreparedImage[],
    options: GenerateOptions,
    signal?: AbortSignal,
  ): Promise<CaptionOutcome[]>;
  dispose(): Promise<void>;
}

export interface EngineSettings {
  model: string;
  device: 'cpu' | 'webgpu' | 'cuda' | 'auto';
  dtype: string | undefined;
  offline: boolean;
  endpoints: string[];
  concurrency: number;
  timeoutSeconds: number;
  retries: number;
  /** How the `openai` engine sends images (default `auto`). */
  imageEncoding?: ImageEncoding;
}

export interface EngineDeps {
  logger: Logger;
}

export type EngineFactory = (settings: EngineSettings, deps: EngineDeps) => Promise<CaptionEngine>;
