import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseAggregate } from '../../formats/aggregate-json.js';
import { readMetricsCsv } from '../../formats/metric-files.js';
import { parseJournal, readRunFiles, resolveSplit } from './load.js';

function recordingLogger() {
  const lines: string[] = [];
  const logger: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return { lines, logger };
}

const CAPTIONS_HEADER =
  'image_id,image_path,reference_caption,generated_caption,processing_time_s,batch_size,engine,model,status,error\n';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-report-load-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveSplit', () => {
  it('uses the requested split, else the only one there (and says so)', async () => {
    await writeFile(join(dir, 'medical_captions_valid.csv'), CAPTIONS_HEADER);
    await writeFile(join(dir, 'medical_captions_valid_with_metrics.csv'), CAPTIONS_HEADER);
    const { lines, logger } = recordingLogger();
    expect(await resolveSplit(dir, 'valid', logger)).toBe('valid');
    expect(lines).toEqual([]);
    expect(await resolveSplit(dir, 'train', logger)).toBe('valid');
    expect(lines.join('\n')).toMatch(/no medical_captions_train\.csv; reporting split 'valid'/);
  });

  it('fails naming what is there when the split is ambiguous or missing: a wrong argument (exit 1)', async () => {
    const none = resolveSplit(dir, 'train', recordingLogger().logger);
    await expect(none).rejects.toThrow(
      /no medical_captions_train\.csv; no medical_captions_\{split\}\.csv at all/,
    );
    await expect(none).rejects.toBeInstanceOf(ConfigError);
    await writeFile(join(dir, 'medical_captions_valid.csv'), CAPTIONS_HEADER);
    await writeFile(join(dir, 'medical_captions_test.csv'), CAPTIONS_HEADER);
    await expect(resolveSplit(dir, 'train', recordingLogger().logger)).rejects.toThrow(
      /splits found: test, valid \(pick one with --split\)/,
    );
    const missing = resolveSplit(join(dir, 'nope'), 'train', recordingLogger().logger);
    await expect(missing).rejects.toThrow(`run folder ${join(dir, 'nope')}: no such folder`);
    await expect(missing).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('parseJournal', () => {
  it('drops a torn last line quietly and counts other bad lines', () => {
    const good = JSON.stringify({
      kind: 'memory',
      time: 1,
      rssBytes: 1,
      heapUsedBytes: 1,
      cacheBytes: 0,
      gpuUsedBytes: null,
      done: 0,
    });
    const { lines, logger } = recordingLogger();
    const parsed = parseJournal(`${good}\n{"kind":"item","id":"to`.split('\n'), 'j.jsonl', logger);
    expect(parsed).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([]);

    const bad = parseJournal(
      `${good}\nnot json\n{"kind":"weird","time":1}\n${good}\n`.split('\n'),
      'j.jsonl',
      logger,
    );
    expect(bad).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn j.jsonl: skipped 2 unreadable line(s), the first at line 2',
    ]);
  });

  it("reads caption's stage and stop lines without a warning", () => {
    const { lines, logger } = recordingLogger();
    const parsed = parseJournal(
      [
        { kind: 'stage', time: 1, stage: 'prepare', indexes: [0] },
        { kind: 'stage', time: 2, stage: 'engine', indexes: [0, 1], alone: true },
        { kind: 'stop', time: 3, reason: 'disk full' },
      ].map((line) => JSON.stringify(line)),
      'j.jsonl',
      logger,
    );
    expect(parsed.map((line) => line.kind)).toEqual(['stage', 'stage', 'stop']);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([]);
  });
});

describe('parseAggregate', () => {
  it('reads metrics with nulls and names the file and field on bad content', () => {
    const parsed = parseAggregate(
      JSON.stringify({
        split: 'test',
        n: 3,
        metrics: {
          bleu_4: { corpus: 0.2, mean: 0.3, std: null, median: 0.3, min: 0, max: 1, ci95: null },
        },
        run: { engine: 'openai' },
      }),
      'agg.json',
    );
    expect(parsed.metrics.bleu_4).toEqual({
      corpus: 0.2,
      mean: 0.3,
      std: null,
      median: 0.3,
      min: 0,
      max: 1,
      ci95: null,
    });
    expect(() => parseAggregate('{', 'agg.json')).toThrow(/agg\.json: not valid JSON/);
    expect(() => parseAggregate('{"metrics":{"bleu_4":{"ci95":[1]}}}', 'agg.json')).toThrow(
      /agg\.json: unexpected content: metrics\.bleu_4\.ci95/,
    );
  });
});

describe('readMetricsCsv', () => {
  it('keeps known metric columns, skips empty cells and names bad cells', async () => {
    const path = join(dir, 'medical_test_detailed.csv');
    await writeFile(path, 'image_id,bleu_4,extra,cider\na,0.5,x,1.5\nb,,y,\n"c,d",NaN,z,0\n');
    const read = await readMetricsCsv(path);
    expect(read.columns).toEqual(['bleu_4', 'cider']);
    expect([...read.values]).toEqual([
      ['a', { bleu_4: 0.5, cider: 1.5 }],
      ['b', {}],
      ['c,d', { cider: 0 }],
    ]);
    await writeFile(path, 'image_id,bleu_4\na,0.5\nb,zero\n');
    await expect(readMetricsCsv(path)).rejects.toThrow(
      /row 3, column 'bleu_4': expected a number, got 'zero'/,
    );
    await writeFile(path, 'id,bleu_4\na,0.5\n');
    await expect(readMetricsCsv(path)).rejects.toThrow(/missing column 'image_id'/);
  });
});

describe('readRunFiles', () => {
  it('needs only the captions CSV and prefers the detailed CSV', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}a,/x.png,ref,gen,0.1,1,openai,m,ok,\n`,
    );
    const bare = await readRunFiles(dir, 'test', recordingLogger().logger);
    expect(bare.captions).toHaveLength(1);
    expect([bare.itemMetrics, bare.aggregate, bare.journal]).toEqual([null, null, []]);
    expect(bare.sources).toEqual(['medical_captions_test.csv']);

    await writeFile(join(dir, 'medical_test_detailed.csv'), 'image_id,rouge_l\na,0.25\n');
    await writeFile(
      join(dir, 'medical_captions_test_with_metrics.csv'),
      `${CAPTIONS_HEADER.trim()},rouge_l\na,/x.png,ref,gen,0.1,1,openai,m,ok,,0.99\n`,
    );
    const full = await readRunFiles(dir, 'test', recordingLogger().logger);
    expect(full.itemMetrics?.get('a')).toEqual({ rouge_l: 0.25 });
    expect(full.sources).toEqual(['medical_captions_test.csv', 'medical_test_detailed.csv']);
  });

  it("reads the captions from evaluate's with-metrics CSV when the captions CSV is not there", async () => {
    await writeFile(
      join(dir, 'medical_captions_test_with_metrics.csv'),
      `${CAPTIONS_HEADER.trim()},rouge_l\na,/x.png,ref,gen,0.1,1,openai,m,ok,,0.5\n`,
    );
    expect(await resolveSplit(dir, 'train', recordingLogger().logger)).toBe('test');
    const files = await readRunFiles(dir, 'test', recordingLogger().logger);
    expect(files.captions.map((r) => r.generatedCaption)).toEqual(['gen']);
    expect(files.itemMetrics?.get('a')).toEqual({ rouge_l: 0.5 });
    expect(files.sources).toEqual(['medical_captions_test_with_metrics.csv']);
  });

  it('leaves out evaluate outputs that score images the captions do not hold', async () => {
    const row = (id: string) => `${id},/x.png,ref,gen,0.1,1,openai,m,ok,\n`;
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}${row('a')}${row('b')}`,
    );
    await writeFile(join(dir, 'medical_test_aggregate.json'), '{"n":2,"metrics":{}}');
    // scores for a only: kept, with a word about b
    await writeFile(join(dir, 'medical_test_detailed.csv'), 'image_id,rouge_l\na,0.25\n');
    const partial = recordingLogger();
    const kept = await readRunFiles(dir, 'test', partial.logger);
    expect(kept.itemMetrics?.size).toBe(1);
    expect(kept.aggregate).not.toBeNull();
    expect(partial.lines.join('\n')).toMatch(/no scores for 1 captioned images .*\(e\.g\. b\)/);
    // scores of another run's images: left out, aggregate too
    await writeFile(join(dir, 'medical_test_detailed.csv'), 'image_id,rouge_l\na,0.25\nz,0.5\n');
    const stale = recordingLogger();
    const dropped = await readRunFiles(dir, 'test', stale.logger);
    expect([dropped.itemMetrics, dropped.aggregate, dropped.metricColumns]).toEqual([
      null,
      null,
      [],
    ]);
    expect(dropped.sources).toEqual(['medical_captions_test.csv']);
    expect(dropped.scoresLeftOut).toBe(
      '1 of the 2 images they score are not in medical_captions_test.csv (e.g. z)',
    );
    expect(stale.lines.join('\n')).toMatch(
      /medical_test_detailed\.csv: 1 of its 2 images are not in .*medical_captions_test\.csv \(e\.g\. z\)/,
    );
  });
});

describe('readRunFiles on a folder captioned again after evaluate ran', () => {
  const line = (id: string, caption: string, reference = 'ref') =>
    `${id},/x.png,${reference},${caption},0.1,1,openai,m,ok,\n`;
  const withMetrics = (...rows: string[]) =>
    `${CAPTIONS_HEADER.trim()},rouge_l\n${rows.map((row) => `${row.trimEnd()},0.5\n`).join('')}`;

  beforeEach(async () => {
    // What evaluate wrote: the scored captions, their scores and the aggregate.
    await writeFile(
      join(dir, 'medical_captions_test_with_metrics.csv'),
      withMetrics(line('a', 'old a'), line('b', 'old b'), line('c', 'old c')),
    );
    await writeFile(
      join(dir, 'medical_test_detailed.csv'),
      'image_id,rouge_l\na,0.5\nb,0.5\nc,0.5\n',
    );
    await writeFile(join(dir, 'medical_test_aggregate.json'), '{"n":3,"metrics":{}}');
  });

  it('leaves out the scores of other captions under the same ids, with one warning', async () => {
    // The captions evaluate scored: the scores are theirs.
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}${line('a', 'old a')}${line('b', 'old b')}${line('c', 'old c')}`,
    );
    const same = recordingLogger();
    const kept = await readRunFiles(dir, 'test', same.logger);
    expect(kept.itemMetrics?.size).toBe(3);
    expect(kept.aggregate).not.toBeNull();
    expect(kept.scoresLeftOut).toBeUndefined();
    expect(same.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
    // b's generated caption and c's reference changed; a is as scored.
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}${line('a', 'old a')}${line('b', 'new b')}${line('c', 'old c', 'new ref')}`,
    );
    const { lines, logger } = recordingLogger();
    const files = await readRunFiles(dir, 'test', logger);
    expect([files.itemMetrics, files.aggregate, files.metricColumns]).toEqual([null, null, []]);
    expect(files.sources).toEqual(['medical_captions_test.csv']);
    expect(files.captions.map((r) => r.generatedCaption)).toEqual(['old a', 'new b', 'old c']);
    const warnings = lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /medical_captions_test\.csv: the captions of 2 of the 3 images evaluate scored have changed since \(the first: b;/,
    );
    expect(warnings[0]).toContain(
      `run medcap evaluate --captions ${join(dir, 'medical_captions_test.csv')} --out ${dir} --split test`,
    );
    expect(files.scoresLeftOut).toBe(
      'the captions of 2 of the 3 images they score have changed since (the first: b)',
    );
  });

  it('takes a row that failed this time, or that evaluate did not score, for what it is', async () => {
    // b failed when captioned again: its old score is not its own.
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}${line('a', 'old a')}b,/x.png,ref,old b,0.1,1,openai,m,error,oom\n${line('c', 'old c')}`,
    );
    const failed = await readRunFiles(dir, 'test', recordingLogger().logger);
    expect(failed.itemMetrics).toBeNull();
    expect(failed.scoresLeftOut).toMatch(/the captions of 1 of the 3 .*\(the first: b\)/);
    // c had no score (evaluate saw no reference): its new caption is only unscored.
    await writeFile(join(dir, 'medical_test_detailed.csv'), 'image_id,rouge_l\na,0.5\nb,0.5\n');
    await writeFile(
      join(dir, 'medical_captions_test.csv'),
      `${CAPTIONS_HEADER}${line('a', 'old a')}${line('b', 'old b')}${line('c', 'new c')}`,
    );
    const { lines, logger } = recordingLogger();
    const kept = await readRunFiles(dir, 'test', logger);
    expect(kept.itemMetrics?.size).toBe(2);
    expect(kept.scoresLeftOut).toBeUndefined();
    expect(lines.join('\n')).toMatch(/no scores for 1 captioned images .*\(e\.g\. c\)/);
  });
});

describe('readRunFiles with a damaged with-metrics CSV beside the detailed CSV', () => {
  it('keeps the scores and says that it could not check them', async () => {
    const line = `a,/x.png,ref,gen,0.1,1,openai,m,ok,\n`;
    await writeFile(join(dir, 'medical_captions_test.csv'), `${CAPTIONS_HEADER}${line}`);
    await writeFile(join(dir, 'medical_test_detailed.csv'), 'image_id,rouge_l\na,0.5\n');
    await writeFile(
      join(dir, 'medical_captions_test_with_metrics.csv'),
      `${CAPTIONS_HEADER.trim()},rouge_l\na,/x.png,"ref,gen,0.1,1,openai,m,ok,,0.5\n`,
    );
    const { lines, logger } = recordingLogger();
    const files = await readRunFiles(dir, 'test', logger);
    expect(files.itemMetrics?.get('a')).toEqual({ rouge_l: 0.5 });
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([
      expect.stringMatching(
        /medical_captions_test_with_metrics\.csv: unterminated quoted field in row 2: cannot tell whether the captions changed after evaluate ran$/,
      ),
    ]);
  });
});
