import { createReadStream } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { CaptionConfig } from '../../config/types.js';
import { ConfigError, DatasetError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { checkInputPath } from '../../core/input-path.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { withOutputLock } from '../../core/out-lock.js';
import { outputPaths } from '../../core/paths.js';
import { captionFromCompletion, errorBodyMessage } from '../../engines/openai/request.js';
import type { CaptionOutcome } from '../../engines/types.js';
import { type CaptionRow, formatCaptionsCsv, okRowWarnings } from '../../formats/captions-csv.js';
import { readJournal } from '../journal.js';
import {
  BATCH_ENGINE_ID,
  type BatchManifest,
  batchPaths,
  type DatasetSelection,
  selectSamples,
} from './batch-common.js';

/** Problems with single result lines warned about before they are only counted. */
const MAX_LINE_WARNINGS = 20;

/** What one result line says about its image. */
export interface BatchResult {
  outcome: CaptionOutcome;
  /** Model the server reports in the response body. */
  model?: string;
  /** Requests in the results file that held this line (the size of that batch job). */
  batchRequests: number;
}

export interface ImportBatchResult {
  captionsPath: string;
  rows: CaptionRow[];
  failed: number;
  /** Selected images with no line in the results. */
  missing: number;
  /** Result lines whose custom_id is not among the selected images. */
  unknown: number;
}

/**
 * Turns batch output JSONL (OpenAI Batch API, `vllm run-batch`) into the captions CSV
 * (SPEC §4, §6). The dataset is read again for order, references and paths; every
 * selected image gets a row: its caption, the error its line reports, the reason
 * export-batch skipped it (from the manifest), or "no result in batch output".
 */
export async function importBatch(
  config: CaptionConfig,
  resultFiles: readonly string[],
  options: { logger?: Logger } = {},
): Promise<ImportBatchResult> {
  const logger = options.logger ?? silentLogger;
  const out = resolve(config.out);
  // A results file that is not there is a wrong argument (exit 1), said before --out is made.
  for (const file of resultFiles)
    await checkInputPath('import-batch: results file', resolve(file), 'file');
  // So is a --data that holds no dataset of its layout (nothing is listed yet).
  const selection = await selectSamples(config, logger);
  return withOutputLock(out, config.split, logger, () =>
    importInto(out, config, selection, resultFiles, logger),
  );
}

/** importBatch() once `out` exists and its lock is held. */
async function importInto(
  out: string,
  config: CaptionConfig,
  selection: DatasetSelection,
  resultFiles: readonly string[],
  logger: Logger,
): Promise<ImportBatchResult> {
  await setAsideJournal(outputPaths(out, config.split).journal, config, logger);
  const results = new Map<string, BatchResult>();
  for (const file of resultFiles) await readResults(resolve(file), results, logger);
  const manifest = await findManifest(
    [out, ...resultFiles.map((f) => dirname(resolve(f)))],
    config.split,
    logger,
  );
  const skipped = new Map(manifest?.skipped.map((s) => [s.id, s.error]) ?? []);
  // Rows with no result, or an error that names no model, take the model the others name.
  const fallbackModel = mostCommonModel(results) ?? manifest?.model ?? config.model;

  const rows: CaptionRow[] = [];
  const used = new Set<string>();
  let missing = 0;
  for await (const sample of selection.samples()) {
    const result = used.has(sample.id) ? undefined : results.get(sample.id);
    let outcome: BatchResult['outcome'];
    if (result) {
      outcome = result.outcome;
      used.add(sample.id);
    } else if (sample.problem?.fatal) {
      outcome = { ok: false, error: sample.problem.message };
    } else if (skipped.has(sample.id)) {
      outcome = { ok: false, error: `not exported: ${skipped.get(sample.id)}` };
    } else {
      outcome = { ok: false, error: 'no result in batch output' };
      missing += 1;
    }
    const warning = sample.problem && !sample.problem.fatal ? sample.problem.message : '';
    const row: CaptionRow = {
      imageId: sample.id,
      imagePath: sample.imagePath,
      references: sample.references,
      generatedCaption: outcome.ok ? outcome.caption : '',
      processingTimeS: Number.NaN,
      batchSize: result?.batchRequests ?? 0,
      engine: BATCH_ENGINE_ID,
      model: result?.model ?? fallbackModel,
      status: outcome.ok ? 'ok' : 'error',
      error: outcome.ok ? okRowWarnings(outcome.caption, warning, outcome.warning) : outcome.error,
    };
    if (sample.concepts !== undefined) row.concepts = sample.concepts;
    rows.push(row);
  }

  const unknown = [...results.keys()].filter((id) => !used.has(id));
  if (unknown.length > 0) {
    const exported = manifest ? ` (the export made ${manifest.exported} requests)` : '';
    logger.warn(
      `import-batch: ${unknown.length} result${unknown.length === 1 ? '' : 's'} for images not in the selected ` +
        `dataset items (e.g. ${unknown.slice(0, 3).join(', ')}) left out${exported}; check --data, --split, ` +
        `--limit (--limit all takes every item) and --shard`,
    );
  }
  if (manifest && resolve(manifest.dataset) !== resolve(config.data)) {
    logger.warn(
      `import-batch: the batch was exported from ${manifest.dataset}; this import reads --data ${resolve(config.data)} ` +
        '(references and image paths come from it)',
    );
  }
  if (missing > 0) {
    logger.warn(
      `import-batch: ${missing} image${missing === 1 ? '' : 's'} had no result in the batch output`,
    );
  }
  const captionsPath = outputPaths(out, config.split).captions;
  await writeFileAtomic(captionsPath, formatCaptionsCsv(rows));
  const failed = rows.filter((r) => r.status === 'error').length;
  logger.info(
    `import-batch: ${rows.length} rows (${rows.length - failed} captioned, ${failed} errors); wrote ${captionsPath}`,
  );
  return { captionsPath, rows, failed, missing, unknown: unknown.length };
}

/**
 * The captions CSV import writes would replace the rows of a caption journal in --out, which
 * a later --resume or merge would bring back: refused, as caption refuses, unless --overwrite
 * (the journal is then removed, so that the imported rows stand).
 */
async function setAsideJournal(
  journalPath: string,
  config: CaptionConfig,
  logger: Logger,
): Promise<void> {
  const { items } = await readJournal(journalPath);
  if (items.size === 0) return;
  if (!config.overwrite) {
    throw new ConfigError(
      `--out ${config.out} already holds a caption journal with ${items.size} captioned images (${journalPath}); ` +
        'import-batch would replace its captions CSV: pass --overwrite to replace both (the journal is removed), ' +
        'or choose another --out',
    );
  }
  await rm(journalPath, { force: true });
  logger.warn(`import-batch: --overwrite: removed the caption journal ${journalPath}`);
}

/** Reads one results file line by line into `results` (first line per custom_id wins). */
async function readResults(
  path: string,
  results: Map<string, BatchResult>,
  logger: Logger,
): Promise<void> {
  const fromThisFile: BatchResult[] = [];
  let problems = 0;
  const problem = (line: number, message: string) => {
    problems += 1;
    if (problems <= MAX_LINE_WARNINGS) logger.warn(`import-batch: ${path}:${line}: ${message}`);
  };
  let lineNumber = 0;
  let jsonLines = 0;
  try {
    const lines = createInterface({
      input: await decompressed(path),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of lines) {
      lineNumber += 1;
      // A byte order mark (Windows tools write one) is not part of the first line's JSON.
      const text = lineNumber === 1 ? line.replace(/^\uFEFF/, '') : line;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        problem(lineNumber, 'not valid JSON; line ignored');
        continue;
      }
      jsonLines += 1;
      // The batch input file given by mistake: say so once rather than fail every image.
      if (isRequestLine(json)) {
        throw new ConfigError(
          `import-batch: ${path}:${lineNumber} is a batch request (custom_id, method, url, body), not a result: ` +
            'give the output file of the batch job (OpenAI: the output and error files of the batch; ' +
            'vllm run-batch: the file named by -o)',
        );
      }
      const customId = (json as { custom_id?: unknown } | null)?.custom_id;
      if (typeof customId !== 'string' || customId === '') {
        problem(lineNumber, 'no custom_id; line ignored');
        continue;
      }
      const result = resultOfLine(json as Record<string, unknown>);
      const earlier = results.get(customId);
      if (earlier) {
        if (earlier.outcome.ok || !result.outcome.ok) {
          problem(lineNumber, `second result for ${customId}; the first is kept`);
          continue;
        }
        problem(lineNumber, `second result for ${customId} replaces an earlier error`);
      }
      results.set(customId, result);
      fromThisFile.push(result);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as { code?: string }).code;
    throw new DatasetError(
      code === 'ENOENT'
        ? `import-batch: results file ${path} not found`
        : `import-batch: cannot read ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (jsonLines === 0 && problems > 0) {
    throw new DatasetError(
      `import-batch: ${path}: none of its ${problems} lines is JSON: give the JSONL output file of the batch job`,
    );
  }
  if (problems > MAX_LINE_WARNINGS) {
    logger.warn(`import-batch: ${path}: ${problems - MAX_LINE_WARNINGS} more problem lines`);
  }
  for (const result of fromThisFile) result.batchRequests = fromThisFile.length;
  logger.info(`import-batch: ${fromThisFile.length} results in ${path}`);
}

/** The file's bytes, gunzipped when they are gzip (a results file downloaded as .gz). */
async function decompressed(path: string): Promise<Readable> {
  const head = Buffer.alloc(2);
  const handle = await open(path, 'r');
  try {
    await handle.read(head, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(path);
  if (head[0] !== 0x1f || head[1] !== 0x8b) return raw;
  const gunzip = createGunzip();
  raw.on('error', (error) => gunzip.destroy(error));
  return raw.pipe(gunzip);
}

/**
 * One line of batch output: `{custom_id, response: {status_code, body}, error}`. A line
 * with `error` set, or a non-200 status, is a failed image with the server's message.
 */
export function resultOfLine(line: Record<string, unknown>): BatchResult {
  const error = line.error;
  const response = line.response as { status_code?: unknown; body?: unknown } | null | undefined;
  const body = response?.body as Record<string, unknown> | undefined;
  const model = typeof body?.model === 'string' ? body.model : undefined;
  const withModel = (outcome: BatchResult['outcome']): BatchResult =>
    model === undefined ? { outcome, batchRequests: 0 } : { outcome, model, batchRequests: 0 };
  if (isSet(error))
    return withModel({ ok: false, error: `batch error ${describeLineError(error)}` });
  if (!response) return withModel({ ok: false, error: 'batch output line has no response' });
  const status = typeof response.status_code === 'number' ? response.status_code : undefined;
  if (status !== 200) {
    return withModel({
      ok: false,
      error: `HTTP ${status ?? 'status unknown'}: ${messageOfBody(response.body)}`,
    });
  }
  return withModel(captionFromCompletion(body));
}

/**
 * The `error` of a result line: OpenAI's `{code, message}`, vLLM's plain string or its
 * ErrorResponse (`{message, code}`, or `{error: {message, code}}` in newer versions).
 */
/** An `error` that says something: not null, not empty (`{}` beside a 200 is no error). */
function isSet(error: unknown): boolean {
  if (error === null || error === undefined || error === '' || error === false) return false;
  return typeof error !== 'object' || Object.keys(error).length > 0;
}

function describeLineError(error: unknown): string {
  if (typeof error === 'string') return error;
  const record = error as Record<string, unknown>;
  if (record.error && typeof record.error === 'object') return describeLineError(record.error);
  const code = typeof record.code === 'string' ? `${record.code}: ` : '';
  return `${code}${errorBodyMessage(record) ?? JSON.stringify(error)}`;
}

/** A line of a batch input file (what export-batch writes), not of its output. */
function isRequestLine(json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const line = json as Record<string, unknown>;
  return 'body' in line && 'url' in line && !('response' in line) && !('error' in line);
}

function mostCommonModel(results: ReadonlyMap<string, BatchResult>): string | undefined {
  const counts = new Map<string, number>();
  for (const { model } of results.values())
    if (model !== undefined) counts.set(model, (counts.get(model) ?? 0) + 1);
  let best: string | undefined;
  for (const [model, n] of counts) if (best === undefined || n > counts.get(best)!) best = model;
  return best;
}

function messageOfBody(body: unknown): string {
  return (
    errorBodyMessage(body) ??
    (body && typeof body === 'object' ? JSON.stringify(body) : 'no message')
  );
}

/** Export's manifest, looked for in --out and beside the results files. */
async function findManifest(
  dirs: readonly string[],
  split: string,
  logger: Logger,
): Promise<BatchManifest | undefined> {
  for (const dir of new Set(dirs)) {
    const path = batchPaths(dir, split).manifest;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    try {
      const manifest = JSON.parse(text) as BatchManifest;
      if (manifest.format === 'medcap-batch-export' && Array.isArray(manifest.skipped)) {
        logger.info(`import-batch: using ${path} for images the export skipped`);
        return manifest;
      }
    } catch {
      logger.warn(`import-batch: ${path} is not a medcap batch manifest; ignored`);
    }
  }
  return undefined;
}
