import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { readJournal } from '../../src/pipeline/journal.js';
import { caption } from '../../src/pipeline/run.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-merge-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('merge', () => {
  it('merges shards into one run, each image exactly once, in dataset order', async () => {
    const data = await writeRocov2(join(root, 'data'), imageSpecs(17));
    const whole = await caption(captionConfig({ data, out: join(root, 'whole') }), {
      engine: new FakeEngine(),
    });
    const dirs = [];
    for (const i of [0, 1, 2, 3]) {
      const out = join(root, `s${i}`);
      await caption(captionConfig({ data, out, shard: `${i}/4` }), { engine: new FakeEngine() });
      dirs.push(out);
    }
    const out = join(root, 'merged');
    // shard 1 given twice: still once per image
    const code = await main(['merge', ...dirs, dirs[1]!, '--out', out], {
      env: {},
      writeErr: () => {},
    });
    expect(code).toBe(0);
    const merged = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    const strip = (rows: typeof merged) => rows.map(({ processingTimeS, ...rest }) => rest);
    expect(strip(merged)).toEqual(strip(whole.rows));
    const journal = await readJournal(join(out, 'medical_captions_train.journal.jsonl'));
    expect(journal.items.size).toBe(17);
  });

  it('says which folder holds no run', async () => {
    const errors: string[] = [];
    const code = await main(['merge', join(root, 'nope'), '--out', join(root, 'x')], {
      env: {},
      writeErr: (t) => errors.push(t),
    });
    expect(code).toBe(1);
    expect(errors.join('')).toMatch(/nope holds neither/);
  });
});
