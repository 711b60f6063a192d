/**
 * Lines of `medical_captions_{split}.journal.jsonl`. The journal is append-only, one JSON
 * object per line, fsync'd after each batch; it is the source of truth for `--resume`
 * and feeds the report's throughput and memory charts.
 */

/** The settings that change the captions, so that `--resume` can refuse to mix others in. */
export interface GenerationSettings {
  prompt: string;
  maxNewTokens: number;
  /** A fixed square; null: Qwen2-VL resizing within min/max pixels. */
  imageSize: number | null;
  minPixels: number;
  maxPixels: number;
  /** DICOM `--window C,W`; null: the file's own. */
  window: [number, number] | null;
  /** DICOM multi-frame: a 1-based frame number, or first, middle, last. */
  frame: number | string;
  imageEncoding: string;
}

/** Written once when a run (or a resumed run) starts. */
export interface JournalStart {
  kind: 'start';
  /** Epoch milliseconds. */
  time: number;
  engine: string;
  model: string;
  device: string;
  dtype: string | null;
  batchSize: number | 'auto';
  split: string;
  dataset: string;
  format: string;
  resumed: boolean;
  /** Items this run intends to caption (after --limit and --shard). */
  planned: number;
  /** `--limit`, null for every item (absent in journals written before medcap recorded it). */
  limit?: number | null;
  /** The `--shard I/N` the run captioned (absent for a whole dataset, and in older journals). */
  shard?: { index: number; count: number };
  /** Absent in journals written before medcap recorded it (they resume unchecked). */
  generation?: GenerationSettings;
  /**
   * Written by `merge` for the folder it wrote: how many folders it merged, and the runs it
   * took while they were unfinished (`I/N` of a shard, `all` for a whole split), whose
   * missing images a later merge must be given.
   */
  merged?: { inputs: number; unfinished: string[] };
  host: { platform: string; cpus: number; totalMemoryBytes: number; node: string };
}

/** One finished image (ok or error). */
export interface JournalItem {
  kind: 'item';
  id: string;
  /** Position in dataset order. */
  index: number;
  path: string;
  references: string[];
  concepts?: string[];
  caption: string;
  status: 'ok' | 'error';
  error: string;
  /** Batch wall time divided by the images in the batch. */
  processingTimeS: number;
  batchSize: number;
  engine: string;
  model: string;
  /** Epoch milliseconds when the batch finished. */
  time: number;
}

/** A memory sample (start, each checkpoint, end, and once per batch). */
export interface JournalMemory {
  kind: 'memory';
  time: number;
  rssBytes: number;
  heapUsedBytes: number;
  cacheBytes: number;
  /** From nvidia-smi, where present. */
  gpuUsedBytes: number | null;
  /** Images finished so far. */
  done: number;
}

/** Written when a run finishes (not after a crash). */
export interface JournalEnd {
  kind: 'end';
  time: number;
  done: number;
  failed: number;
  wallTimeS: number;
  peakRssBytes: number;
}

/**
 * Images entering a stage where a bad image could bring the whole process down: `prepare`
 * (reading and decoding), `engine` (captioning); `wait` once prepared (waiting for a batch,
 * harmless). Written without fsync before the stage starts: what a process wrote survives
 * its death, so after a crash `--resume` knows which images were in those stages.
 */
export interface JournalStage {
  kind: 'stage';
  time: number;
  stage: 'prepare' | 'wait' | 'engine';
  indexes: number[];
  /** Nothing else was in progress (`--resume` isolating the images of a crash). */
  alone?: true;
}

/** Written when a run ends on a fatal error (not a crash): its unfinished images were not the cause. */
export interface JournalStop {
  kind: 'stop';
  time: number;
  reason: string;
}

/** Every kind of journal line, for readers that check what they read. */
export const JOURNAL_LINE_KINDS: readonly JournalLine['kind'][] = [
  'start',
  'item',
  'memory',
  'end',
  'stage',
  'stop',
];

export type JournalLine =
  | JournalStart
  | JournalItem
  | JournalMemory
  | JournalEnd
  | JournalStage
  | JournalStop;

/** The journal split into sessions (a run, then each resume): a new one at each start line. */
export function journalSessions(journal: readonly JournalLine[]): JournalLine[][] {
  const out: JournalLine[][] = [];
  let current: JournalLine[] = [];
  for (const line of journal) {
    if (line.kind === 'start' && current.length > 0) {
      out.push(current);
      current = [];
    }
    current.push(line);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * The wall time of every session (a first run and each resume) added up: its end line's,
 * else from its start to its last line (a session that was killed). The images of all
 * sessions are counted, so one session's time alone would overstate images/s.
 */
export function sessionsWallTimeS(journal: readonly JournalLine[]): number | null {
  let total: number | null = null;
  for (const lines of journalSessions(journal)) {
    const start = lines[0]!;
    if (start.kind !== 'start') continue; // lines written before journals had start lines
    const end = lines.find((line) => line.kind === 'end');
    // max: an item written again by a resume keeps its first time (planRun's refreshed)
    const last = lines.reduce((latest, line) => Math.max(latest, line.time), start.time);
    total = (total ?? 0) + (end !== undefined ? end.wallTimeS : (last - start.time) / 1000);
  }
  return total;
}

/** The highest memory of any session: a resume with little left to do peaks lower than the run. */
export function sessionsPeakRssBytes(journal: readonly JournalLine[]): number | null {
  let peak: number | null = null;
  for (const line of journal) {
    if (line.kind === 'memory') peak = Math.max(peak ?? 0, line.rssBytes);
    else if (line.kind === 'end') peak = Math.max(peak ?? 0, line.peakRssBytes);
  }
  return peak;
}
