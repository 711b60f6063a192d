/**
 * Relative paths in a config file are taken from the file's folder, wherever medcap runs;
 * the same paths on the command line or in MEDCAP_* variables from the working directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { fakeEngineCli } from '../support/main-in-process.js';

let root: string;
/** The project: config file, dataset, prompt file; medcap runs from `work`, elsewhere. */
let project: string;
let work: string;
const PROMPT = 'Name the modality.'; // 18 characters: FakeEngine's captions end "for 18"

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-config-paths-'));
  project = join(root, 'project');
  work = join(root, 'work');
  await mkdir(work, { recursive: true });
  await writeRocov2(join(project, 'data'), imageSpecs(3));
  await writeFile(join(project, 'prompt.txt'), `${PROMPT}\n`);
  await writeFile(
    join(project, 'medcap.config.json'),
    JSON.stringify({ data: 'data', out: 'results', prompt: '@prompt.txt', bootstrap: 0 }),
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const cli = fakeEngineCli(() => work);

describe('relative paths in a config file', () => {
  it("are taken from the config file's folder, not from the working directory", async () => {
    const result = await cli(['caption', '--config', '../project/medcap.config.json']);
    expect(result.code, result.err).toBe(0);
    const rows = await readCaptionsCsv(join(project, 'results', 'medical_captions_train.csv'));
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.imagePath.startsWith(join(project, 'data')))).toBe(true);
    expect(rows.every((r) => r.generatedCaption.endsWith(`for ${PROMPT.length}`))).toBe(true);
    expect(await readdir(work), 'nothing written in the working directory').toEqual([]);
  });

  it('while a flag or a variable is taken from the working directory, and wins', async () => {
    await writeRocov2(join(work, 'here-data'), imageSpecs(2));
    const result = await cli(
      ['caption', '--config', join(project, 'medcap.config.json'), '--out', 'flag-out'],
      { env: { MEDCAP_DATA: 'here-data' } },
    );
    expect(result.code, result.err).toBe(0);
    const rows = await readCaptionsCsv(join(work, 'flag-out', 'medical_captions_train.csv'));
    expect(rows).toHaveLength(2);
    expect(rows[0]!.imagePath.startsWith(join(work, 'here-data'))).toBe(true);
  });

  it('a path the config file names that is not there is named as resolved (exit 1)', async () => {
    const dir = join(root, 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'exp.json'), JSON.stringify({ data: 'nope', out: 'o' }));
    const result = await cli(['caption', '--config', join(dir, 'exp.json')]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`--data ${join(dir, 'nope')}: no such file or folder`);
    expect(existsSync(join(dir, 'o'))).toBe(false);
  });

  it('a model folder is one too; a Hub id is not', async () => {
    const dir = join(root, 'models-config');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'exp.json'),
      JSON.stringify({ data: '../project/data', out: 'o', model: './no-model', offline: true }),
    );
    const local = await cli(['caption', '--config', join(dir, 'exp.json')], { realEngine: true });
    expect(local.code).toBe(1);
    expect(local.err).toContain(`--model ${join(dir, 'no-model')}: no such folder`);
    await writeFile(
      join(dir, 'exp.json'),
      JSON.stringify({ data: '../project/data', out: 'o2', model: 'someone/not-cached' }),
    );
    const hub = await cli(['caption', '--config', join(dir, 'exp.json'), '--offline'], {
      realEngine: true,
      env: { MEDCAP_MODEL_CACHE: join(root, 'empty-cache') },
    });
    expect(hub.code).toBe(1);
    expect(hub.err).toMatch(/model someone\/not-cached is not available offline/);
  });

  it('evaluate: --captions and --out from the config file, relative to it', async () => {
    const dir = join(root, 'eval-config');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'pairs.jsonl'),
      `${JSON.stringify({ id: 'a', candidate: 'a chest x-ray', references: ['a chest x-ray'] })}\n`,
    );
    await writeFile(
      join(dir, 'exp.json'),
      JSON.stringify({ captions: 'pairs.jsonl', out: 'scores', metrics: ['bleu'], bootstrap: 0 }),
    );
    const result = await cli(['evaluate', '--config', join(dir, 'exp.json')]);
    expect(result.code, result.err).toBe(0);
    expect(existsSync(join(dir, 'scores', 'medical_train_aggregate.json'))).toBe(true);
    // A relative --bertscore-model flag is taken from the working directory (`cwd` of main).
    const flag = await cli(
      [
        'evaluate',
        '--config',
        join(dir, 'exp.json'),
        '--metrics',
        'bertscore',
        '--bertscore-model',
        './no-bert',
      ],
      { env: {}, cwd: work },
    );
    expect(flag.code).toBe(1);
    expect(flag.err).toContain(`--bertscore-model ${join(work, 'no-bert')}: no such folder`);
  });
});
