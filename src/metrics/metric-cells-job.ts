/**
 * The per-item files' metric cells (metric-files.ts metricCells) formatted in chunks of
 * items that helper threads take with this one, in shared memory: String(x) of a million
 * numbers is a good part of writing the files at ROCOv2's size. The same bytes as
 * metricCells, whichever thread formats which chunk.
 */
import {
  cellBytesBound,
  type ItemScores,
  type MetricCells,
  writeMetricCells,
} from '../formats/metric-files.js';
import {
  chunkCount,
  createClaims,
  runClaimedChunks,
  runLeftoverChunks,
  sharedArray,
} from './shared-memory.js';

/** Items per claim. */
const CHUNK_ITEMS = 2048;

export interface MetricCellsJob {
  items: number;
  columns: number;
  /** Column-major: column c's value of item k at c × items + k. */
  values: Float64Array;
  /** Chunk c's cells from byte c × CHUNK_ITEMS × cellBytesBound(columns) on. */
  bytes: Uint8Array;
  /** ends[k]: the byte after item k's cells. */
  ends: Uint32Array;
  /** Chunks of CHUNK_ITEMS items (shared-memory.ts createClaims). */
  claims: Int32Array;
}

export function createMetricCellsJob(
  columns: readonly string[],
  scores: ItemScores,
): MetricCellsJob {
  const items = scores.ids.length;
  const values = sharedArray(Float64Array, items * columns.length).fill(Number.NaN);
  columns.forEach((column, c) => {
    const got = scores.values[column];
    if (got !== undefined) values.set(got, c * items);
  });
  return {
    items,
    columns: columns.length,
    values,
    bytes: sharedArray(Uint8Array, items * cellBytesBound(columns.length)),
    ends: sharedArray(Uint32Array, items),
    claims: createClaims(Math.ceil(items / CHUNK_ITEMS)),
  };
}

/** Claims chunks until none is left, and formats them. */
export function runMetricCellChunks(job: MetricCellsJob): void {
  runClaimedChunks(job.claims, (c) => formatChunk(job, c));
}

/**
 * The cells, once no thread formats any more (the chunks a thread claimed and did not
 * finish are formatted here), packed as metricCells gives them.
 */
export function metricCellsOf(job: MetricCellsJob): MetricCells {
  runLeftoverChunks(job.claims, (c) => formatChunk(job, c));
  const chunks = chunkCount(job.claims);
  const { items, ends } = job;
  const source = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length);
  // Every chunk holds an item at least.
  let length = 0;
  for (let c = 0; c < chunks; c++) length += ends[chunkItems(job, c)[1] - 1]! - chunkStart(job, c);
  const bytes = Buffer.allocUnsafe(length);
  const offsets = new Uint32Array(items + 1);
  let at = 0;
  for (let c = 0; c < chunks; c++) {
    const [from, to] = chunkItems(job, c);
    const start = chunkStart(job, c);
    source.copy(bytes, at, start, ends[to - 1]!);
    const shift = at - start;
    for (let k = from; k < to; k++) offsets[k + 1] = ends[k]! + shift;
    at += ends[to - 1]! - start;
  }
  return { bytes, offsets };
}

function chunkItems(job: MetricCellsJob, c: number): [number, number] {
  return [c * CHUNK_ITEMS, Math.min(job.items, (c + 1) * CHUNK_ITEMS)];
}

function chunkStart(job: MetricCellsJob, c: number): number {
  return c * CHUNK_ITEMS * cellBytesBound(job.columns);
}

function formatChunk(job: MetricCellsJob, c: number): void {
  const { items, values } = job;
  const columnValues = Array.from({ length: job.columns }, (_, i) =>
    values.subarray(i * items, (i + 1) * items),
  );
  const [from, to] = chunkItems(job, c);
  const out = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length);
  writeMetricCells(columnValues, from, to, out, chunkStart(job, c), job.ends);
}
