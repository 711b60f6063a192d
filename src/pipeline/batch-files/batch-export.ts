import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { formatBytes } from '../../config/size.js';
import type { CaptionConfig } from '../../config/types.js';
import { ensureWritableDir, writeFileAtomic } from '../../core/files.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import type { Sample } from '../../datasets/types.js';
import { imageDataUri } from '../../engines/openai/image-uri.js';
import { DEFAULT_MODEL_ID } from '../../engines/openai/models.js';
import { chatRequestBody } from '../../engines/openai/request.js';
import { prepareEncodedImage } from '../../images/encoded.js';
import { prefetch } from '../prefetch.js';
import { preprocessOptions } from '../selection.js';
import {
  BATCH_MAX_BYTES,
  BATCH_MAX_REQUESTS,
  BATCH_URL,
  type BatchManifest,
  batchPaths,
  selectSamples,
} from './batch-common.js';

/** Model named in batch requests when `--model` was left at the embedded engine's ONNX default. */
export const BATCH_DEFAULT_MODEL = 'Qwen/Qwen2-VL-2B-Instruct';
/** Skipped images warned about one by one before they are only counted. */
const MAX_SKIP_WARNINGS = 20;

export interface ExportBatchOptions {
  logger?: Logger;
  /** Per-file limits (default: the OpenAI Batch API's 50,000 requests and 200 MB). */
  maxRequests?: number;
  maxBytes?: number;
}

export interface ExportBatchResult {
  files: { path: string; requests: number; bytes: number }[];
  manifestPath: string;
  exported: number;
  skipped: BatchManifest['skipped'];
  model: string;
}

/**
 * Writes OpenAI batch JSONL (SPEC §4): one `POST /v1/chat/completions` request per image,
 * `custom_id` = image id, the body the live `openai` engine sends. Streams: each image is
 * read, prepared, encoded and written as its line, so memory does not grow with the
 * dataset. Files are split at the Batch API limits and numbered; each file is written to
 * a temp name, fsync'd, and renamed when the export is complete.
 */
export async function exportBatch(
  config: CaptionConfig,
  options: ExportBatchOptions = {},
): Promise<ExportBatchResult> {
  const logger = options.logger ?? silentLogger;
  const out = resolve(config.out);
  // Before --out is made: a --data that holds no dataset of its layout leaves no folder.
  const selection = await selectSamples(config, logger);
  await ensureWritableDir(out, '--out');
  const paths = batchPaths(out, config.split);
  const model = config.model === DEFAULT_MODEL_ID ? BATCH_DEFAULT_MODEL : config.model;
  if (model !== config.model) {
    logger.info(
      `export-batch: requests name the model ${model} (the weights behind the default ${config.model}); ` +
        'pass --model with the name your server or batch API serves',
    );
  }
  const writer = new PartWriter(
    out,
    options.maxRequests ?? BATCH_MAX_REQUESTS,
    options.maxBytes ?? BATCH_MAX_BYTES,
  );
  const skipped: BatchManifest['skipped'] = [];
  const skip = (sample: Sample, error: string) => {
    skipped.push({ id: sample.id, index: sample.index, path: sample.imagePath, error });
    if (skipped.length <= MAX_SKIP_WARNINGS)
      logger.warn(`export-batch: skipped ${sample.id}: ${error}`);
  };

  // Images are encoded while they are prepared, so encoding runs ahead with the rest.
  const prepare = async (sample: Sample) =>
    prepareEncodedImage(sample.id, sample.imagePath, await sample.readImage(), {
      ...preprocessOptions(config),
      encoding: config.imageEncoding,
    });
  try {
    for await (const item of prefetch(selection.samples(), prepare, config.prefetch)) {
      if (item.image === undefined) {
        skip(item.sample, item.error);
        continue;
      }
      const uri = await imageDataUri(item.image);
      const line = `${JSON.stringify({
        custom_id: item.sample.id,
        method: 'POST',
        url: BATCH_URL,
        body: chatRequestBody(model, config.prompt, uri, config.maxNewTokens),
      })}\n`;
      const written = await writer.write(line);
      if (!written) {
        skip(
          item.sample,
          `request is ${formatBytes(Buffer.byteLength(line))}, over the ${formatBytes(writer.maxBytes)} limit of one batch file`,
        );
      }
    }
    const files = await writer.finish(paths, logger);
    if (skipped.length > MAX_SKIP_WARNINGS) {
      logger.warn(`export-batch: ${skipped.length - MAX_SKIP_WARNINGS} more images skipped`);
    }
    const exported = files.reduce((sum, f) => sum + f.requests, 0);
    const manifest: BatchManifest = {
      format: 'medcap-batch-export',
      version: 1,
      split: config.split,
      dataset: resolve(config.data),
      model,
      prompt: config.prompt,
      maxNewTokens: config.maxNewTokens,
      files: files.map((f) => ({ name: basename(f.path), requests: f.requests, bytes: f.bytes })),
      exported,
      skipped,
      createdAt: new Date().toISOString(),
    };
    await writeFileAtomic(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
    logger.info(
      `export-batch: ${exported} request${exported === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}` +
        (skipped.length > 0
          ? `, ${skipped.length} image${skipped.length === 1 ? '' : 's'} skipped`
          : '') +
        (files.length > 0 ? ` (${files.map((f) => basename(f.path)).join(', ')})` : ''),
    );
    return { files, manifestPath: paths.manifest, exported, skipped, model };
  } finally {
    await writer.abort();
  }
}

interface Part {
  temp: string;
  handle: FileHandle;
  requests: number;
  bytes: number;
}

/** Writes lines into numbered temp files, starting a new one before a limit would be passed. */
class PartWriter {
  private current: Part | undefined;
  private readonly done: Omit<Part, 'handle'>[] = [];
  private readonly tag = randomBytes(4).toString('hex');

  constructor(
    private readonly dir: string,
    readonly maxRequests: number,
    readonly maxBytes: number,
  ) {}

  /** False when the line alone is over the byte limit (nothing written). */
  async write(line: string): Promise<boolean> {
    const bytes = Buffer.byteLength(line);
    if (bytes > this.maxBytes) return false;
    if (
      this.current &&
      (this.current.requests + 1 > this.maxRequests || this.current.bytes + bytes > this.maxBytes)
    ) {
      await this.closeCurrent();
    }
    if (!this.current) {
      const temp = join(this.dir, `.batch.${this.tag}.${this.done.length + 1}.jsonl.tmp`);
      this.current = { temp, handle: await open(temp, 'w'), requests: 0, bytes: 0 };
    }
    await this.current.handle.write(line);
    this.current.requests += 1;
    this.current.bytes += bytes;
    return true;
  }

  private async closeCurrent(): Promise<void> {
    const part = this.current;
    if (!part) return;
    this.current = undefined;
    await part.handle.sync();
    await part.handle.close();
    this.done.push({ temp: part.temp, requests: part.requests, bytes: part.bytes });
  }

  /**
   * Closes the last file, removes the batch files of an earlier export of the split, and
   * renames the temp files: `batch_{split}.jsonl` for one file, `batch_{split}_001.jsonl` …
   * for several.
   */
  async finish(
    paths: ReturnType<typeof batchPaths>,
    logger: Logger,
  ): Promise<{ path: string; requests: number; bytes: number }[]> {
    await this.closeCurrent();
    for (const name of await readdir(this.dir)) {
      if (paths.pattern.test(name)) {
        await rm(join(this.dir, name), { force: true });
        logger.info(`export-batch: removed ${name} from an earlier export`);
      }
    }
    const files: { path: string; requests: number; bytes: number }[] = [];
    for (const [i, part] of this.done.entries()) {
      const path = this.done.length === 1 ? paths.single : paths.part(i + 1);
      await rename(part.temp, path);
      files.push({ path, requests: part.requests, bytes: part.bytes });
    }
    this.done.length = 0;
    return files;
  }

  /** Removes temp files left by a failed export (no-op after `finish`). */
  async abort(): Promise<void> {
    if (this.current) {
      await this.current.handle.close().catch(() => {});
      this.done.push(this.current);
      this.current = undefined;
    }
    for (const part of this.done) await rm(part.temp, { force: true });
    this.done.length = 0;
  }
}
