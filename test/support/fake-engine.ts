import { EngineError } from '../../src/core/errors.js';
import type {
  CaptionEngine,
  CaptionOutcome,
  GenerateOptions,
  PreparedImage,
} from '../../src/engines/types.js';

export interface FakeEngineOptions {
  /** Milliseconds each generate call takes. */
  delayMs?: number;
  /** Batches larger than this throw an out-of-memory EngineError. */
  oomAbove?: number;
  /** Image ids whose outcome is an error. */
  failIds?: string[];
  /** Image ids whose caption comes back empty (a model that says nothing). */
  emptyIds?: string[];
  /** Act like a server engine: fixed batch size, any mix of image sizes. */
  serverBatchSize?: number;
  /** Extra milliseconds for a batch that holds this image id. */
  slowId?: { id: string; delayMs: number };
  /** A batch that holds this image id fails as no image could pass (the run stops, exit 2). */
  stopRunAt?: string;
  /**
   * Stand in for an engine that blocks the thread, as the embedded engine does (default),
   * which gets the hang watchdog; false: an async engine of a library caller's.
   */
  blocksThread?: boolean;
}

/**
 * Test double of a captioning engine: the caption is a pure function of the pixels, so
 * the same image always gets the same caption whatever the batch.
 */
export class FakeEngine implements CaptionEngine {
  readonly id = 'fake';
  readonly model = 'fake-model';
  readonly device = 'cpu';
  readonly batches: number[] = [];
  readonly grids: string[][] = [];
  readonly batchSize: number | undefined;
  readonly blocksThread: boolean;
  disposed = false;

  constructor(private readonly options: FakeEngineOptions = {}) {
    this.batchSize = options.serverBatchSize;
    this.blocksThread = options.blocksThread ?? options.serverBatchSize === undefined;
  }

  async generate(
    batch: readonly PreparedImage[],
    options: GenerateOptions,
    signal?: AbortSignal,
  ): Promise<CaptionOutcome[]> {
    if (this.options.oomAbove !== undefined && batch.length > this.options.oomAbove) {
      throw new EngineError(`failed to allocate memory for a batch of ${batch.length}`, {
        outOfMemory: true,
      });
    }
    if (this.options.stopRunAt && batch.some((image) => image.id === this.options.stopRunAt)) {
      throw new EngineError('fake server refused every request', { stopsRun: true });
    }
    const sizes = new Set(batch.map((image) => `${image.height}x${image.width}`));
    if (sizes.size > 1 && this.batchSize === undefined)
      throw new Error(`batch mixes grids: ${[...sizes].join(', ')}`);
    this.batches.push(batch.length);
    this.grids.push([...sizes]);
    const slow = this.options.slowId;
    const delay =
      (this.options.delayMs ?? 0) +
      (slow && batch.some((i) => i.id === slow.id) ? slow.delayMs : 0);
    if (delay > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, delay);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new Error('generate cancelled'));
        });
      });
    }
    return batch.map((image) => {
      if (this.options.failIds?.includes(image.id))
        return { ok: false, error: `fake failure for ${image.id}` };
      if (this.options.emptyIds?.includes(image.id)) return { ok: true, caption: '' };
      let sum = 0;
      for (let i = 0; i < image.pixels.length; i += 97) sum += image.pixels[i]!;
      const tone = sum / Math.ceil(image.pixels.length / 97) > 127 ? 'bright' : 'dark';
      return {
        ok: true,
        caption: `${tone} image ${image.width}x${image.height} for ${options.prompt.length}`,
      };
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
