// Ctrl-C during `medcap run`'s evaluation: the captions are complete, so the run stops the
// scoring, says how to score them later, and writes no half-made metric files.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSettings, runPipeline } from '../../src/cli/commands/run.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';

let root: string;
let data: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-run-interrupt-'));
  data = await writeRocov2(join(root, 'data'), imageSpecs(6));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('medcap run, stopped after the captions', () => {
  it('skips the evaluation and the report, keeps every caption, says how to score them', async () => {
    const out = join(root, 'out');
    const config = captionConfig({ data, out, batchSize: 2 });
    const controller = new AbortController();
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info(message: string) {
        // the caption stage's last line: the signal arrives as the evaluation starts
        if (message.startsWith('done: ')) controller.abort();
      },
      warn(message: string) {
        warnings.push(message);
      },
      error() {},
    };
    const result = await runPipeline(config, evaluateSettings({}, config), {
      logger,
      engine: new FakeEngine(),
      signal: controller.signal,
    });
    expect(result.evaluationStopped).toBe(true);
    expect(result.caption.interrupted).toBe(false);
    const rows = await readCaptionsCsv(result.caption.captionsPath);
    expect(rows.filter((r) => r.status === 'ok')).toHaveLength(6);
    expect(warnings.join('\n')).toContain(
      `score them with medcap evaluate --captions ${result.caption.captionsPath} --out ${out}`,
    );
    await expect(access(join(out, 'medical_train_aggregate.json'))).rejects.toThrow();
    await expect(access(join(out, 'medical_train_report.html'))).rejects.toThrow();
  });
});
