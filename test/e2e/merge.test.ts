import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { readJournal } from '../../src/pipeline/journal.js';
import { caption } from '../../src/pipeline/run.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';
import { runMain } from '../support/main-in-process.js';

let root: string;
/** Output folders of `--shard 0/4` … `3/4` of one 17-image dataset. */
const shards: string[] = [];
const JOURNAL = 'medical_captions_train.journal.jsonl';

async function merge(args: string[]): Promise<{ code: number; err: string }> {
  const { code, err } = await runMain(['merge', ...args], { env: {} });
  return { code, err };
}

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
    const dirs = shards;
    for (const i of [0, 1, 2, 3]) {
      const out = join(root, `s${i}`);
      await caption(captionConfig({ data, out, shard: `${i}/4` }), { engine: new FakeEngine() });
      dirs.push(out);
    }
    const out = join(root, 'merged');
    // shard 1 given twice: still once per image
    const { code } = await merge([...dirs, dirs[1]!, '--out', out]);
    expect(code).toBe(0);
    const merged = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    const strip = (rows: typeof merged) => rows.map(({ processingTimeS, ...rest }) => rest);
    expect(strip(merged)).toEqual(strip(whole.rows));
    const journal = await readJournal(join(out, 'medical_captions_train.journal.jsonl'));
    expect(journal.items.size).toBe(17);
  });

  it('says which folder is not there or holds no run (exit 1, before --out is made)', async () => {
    const missing = await merge([join(root, 'nope'), '--out', join(root, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`run folder ${join(root, 'nope')}: no such folder`);
    await mkdir(join(root, 'empty'));
    const empty = await merge([shards[0]!, join(root, 'empty'), '--out', join(root, 'x')]);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/empty holds neither .*\(is --split train right\?\)/);
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it('exits 3 naming the shard that no input holds', async () => {
    const { code, err } = await merge([
      shards[0]!,
      shards[1]!,
      shards[3]!,
      '--out',
      join(root, 'm2'),
    ]);
    expect(code).toBe(3);
    expect(err).toMatch(/no input holds shard 2\/4/);
    // a merged folder counts for the shards its images belong to
    const again = await merge([join(root, 'm2'), shards[2]!, '--out', join(root, 'm3')]);
    expect(again.code).toBe(0);
    expect(again.err).not.toMatch(/from before this merge/);
    // merged again into a folder that was evaluated: its scores are of the old captions
    await writeFile(join(root, 'm2', 'medical_train_detailed.csv'), 'image_id,rouge_l\n');
    const over = await merge([shards[2]!, join(root, 'm2'), '--out', join(root, 'm2')]);
    expect(over.code).toBe(0);
    expect(over.err).toMatch(/m2 still holds medical_train_detailed\.csv from before this merge/);
  });

  it('exits 3 naming a run whose journal has no end line (still running or stopped)', async () => {
    const running = join(root, 'running');
    const lines = (await readFile(join(shards[2]!, JOURNAL), 'utf8')).split('\n');
    const cut = lines.findIndex((l) => l.includes('"kind":"item"')) + 1;
    await mkdir(running, { recursive: true });
    await writeFile(join(running, JOURNAL), `${lines.slice(0, cut).join('\n')}\n`);
    const out = join(root, 'm-running');
    const { code, err } = await merge([shards[0]!, shards[1]!, running, shards[3]!, '--out', out]);
    expect(code).toBe(3);
    expect(err).toMatch(
      /running: its journal has no end line: the run is still going or was stopped \(1 of the \d+ images it planned\)/,
    );
    expect(await readJournal(join(out, JOURNAL))).toMatchObject({ tornBytes: 0 });
  });

  it('exits 1 when one image is at two places of the dataset (no image written twice)', async () => {
    const moved = join(root, 'moved');
    const lines = (await readFile(join(shards[0]!, JOURNAL), 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"item"'));
    const item = JSON.parse(lines[at]!) as { id: string; index: number };
    // As if the dataset's index file had been re-sorted before this run: the image elsewhere.
    lines[at] = JSON.stringify({ ...item, index: 1000 });
    await mkdir(moved, { recursive: true });
    await writeFile(join(moved, JOURNAL), lines.join('\n'));
    const out = join(root, 'm-moved');
    const { code, err } = await merge([...shards, moved, '--out', out]);
    expect(code, err).toBe(1);
    expect(err).toContain(
      `merge: image '${item.id}' is at index ${item.index} of the dataset in ${shards[0]} and at index 1000 in ${moved}: not shards of one dataset`,
    );
    expect(existsSync(join(out, 'medical_captions_train.csv'))).toBe(false);
  });

  it('names the file and line of a damaged journal line (exit 2, not an internal error)', async () => {
    const damaged = join(root, 'damaged');
    await caption(captionConfig({ data: join(root, 'data'), out: damaged, shard: '1/4' }), {
      engine: new FakeEngine(),
    });
    const lines = (await readFile(join(damaged, JOURNAL), 'utf8')).split('\n');
    lines.splice(2, 0, '{"kind":"item","id":');
    await writeFile(join(damaged, JOURNAL), lines.join('\n'));
    const { code, err } = await merge([damaged, '--out', join(root, 'm-damaged')]);
    expect(code).toBe(2);
    expect(err).toContain(`${join(damaged, JOURNAL)}:3: journal line is not valid JSON`);
    expect(err).not.toMatch(/internal error/);
  });

  it('keeps the rows a merged folder holds only in its CSV when it is merged again', async () => {
    // Shard 1 brought in without a journal (as import-batch writes it), then merged twice.
    const csvOnly = join(root, 'csv-only');
    await mkdir(csvOnly, { recursive: true });
    const csv = 'medical_captions_train.csv';
    await writeFile(join(csvOnly, csv), await readFile(join(shards[1]!, csv)));
    const once = join(root, 'm-once');
    expect((await merge([shards[0]!, csvOnly, '--out', once])).code).toBe(3);
    const twice = join(root, 'm-twice');
    await merge([once, '--out', twice]);
    const rows = async (dir: string) =>
      (await readCaptionsCsv(join(dir, csv))).map((r) => r.imageId).sort();
    expect(await rows(twice)).toEqual(await rows(once));
    expect((await rows(twice)).length).toBeGreaterThan(
      (await readJournal(join(once, JOURNAL))).items.size,
    );
  });

  it('refuses shards captioned with other settings (exit 1), and says another --limit may miss images (exit 3)', async () => {
    const data = join(root, 'data');
    const prompt = join(root, 's1-prompt');
    await caption(captionConfig({ data, out: prompt, shard: '1/4', maxNewTokens: 5 }), {
      engine: new FakeEngine(),
    });
    const refused = await merge([shards[0]!, prompt, '--out', join(root, 'm-prompt')]);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain(
      `merge: ${shards[0]} and ${prompt} were captioned with other settings that change the captions (--max-new-tokens:`,
    );
    expect(existsSync(join(root, 'm-prompt', 'medical_captions_train.csv'))).toBe(false);

    const limited = join(root, 's1-limit');
    await caption(captionConfig({ data, out: limited, shard: '1/4', limit: 5 }), {
      engine: new FakeEngine(),
    });
    const { code, err } = await merge([
      shards[0]!,
      limited,
      ...shards.slice(2),
      '--out',
      join(root, 'm-limit'),
    ]);
    expect(code, err).toBe(3);
    expect(err).toContain('the runs used different --limit (');
    expect(err).toContain(`${limited}: 5`);
  });

  it('checks a merged folder merged again as it checks a shard: its settings, and a run it took unfinished', async () => {
    const data = join(root, 'data');
    // Shard 2 stopped after one image, merged with the others: exit 3, as it should.
    const stopped = join(root, 's2-stopped');
    const lines = (await readFile(join(shards[2]!, JOURNAL), 'utf8')).split('\n');
    const cut = lines.findIndex((l) => l.includes('"kind":"item"')) + 1;
    await mkdir(stopped, { recursive: true });
    await writeFile(join(stopped, JOURNAL), `${lines.slice(0, cut).join('\n')}\n`);
    const early = join(root, 'm-early');
    expect((await merge([shards[0]!, shards[1]!, stopped, shards[3]!, '--out', early])).code).toBe(
      3,
    );
    // Merged again alone, or with the other shards: it still lacks shard 2's images.
    for (const inputs of [[early], [early, shards[0]!, shards[3]!]]) {
      const again = await merge([...inputs, '--out', join(root, 'm-again')]);
      expect(again.code, again.err).toBe(3);
      expect(again.err).toContain(
        `${early} was merged from shard 2/4 that had not finished: finish it with caption --resume`,
      );
    }
    // With shard 2 finished beside it: complete.
    const completed = await merge([early, shards[2]!, '--out', join(root, 'm-completed')]);
    expect(completed.code, completed.err).toBe(0);

    // Another --max-new-tokens than the merged folder's shards: refused, as for shards.
    const tokens = join(root, 's2-tokens');
    await caption(captionConfig({ data, out: tokens, shard: '2/4', maxNewTokens: 5 }), {
      engine: new FakeEngine(),
    });
    const mixed = await merge([early, tokens, '--out', join(root, 'm-mixed')]);
    expect(mixed.code, mixed.err).toBe(1);
    expect(mixed.err).toContain('other settings that change the captions (--max-new-tokens:');
  });

  it('says when one image has different captions in two runs, and which it kept', async () => {
    const altered = join(root, 's1-altered');
    const lines = (await readFile(join(shards[1]!, JOURNAL), 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"item"'));
    const item = JSON.parse(lines[at]!) as { id: string; caption: string; time: number };
    lines[at] = JSON.stringify({ ...item, caption: 'another caption', time: item.time + 1 });
    await mkdir(altered, { recursive: true });
    await writeFile(join(altered, JOURNAL), lines.join('\n'));
    const out = join(root, 'm-altered');
    const { code, err } = await merge([shards[1]!, altered, '--out', out]);
    expect(code, err).toBe(3); // shards 0, 2 and 3 are not there
    expect(err).toContain(
      `1 of them have different captions in different runs (the first: ${item.id}, in ${shards[1]} and ${altered}); for each, the one captioned last is kept`,
    );
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.find((row) => row.imageId === item.id)?.generatedCaption).toBe('another caption');
  });

  it("gives the merged folder its inputs' run facts: their wall times added up, the highest memory, the settings", async () => {
    const out = join(root, 'm-facts');
    expect((await merge([...shards, '--out', out])).code).toBe(0);
    const ends = await Promise.all(
      shards.map(async (dir) =>
        (await readFile(join(dir, JOURNAL), 'utf8'))
          .split('\n')
          .filter((line) => line.includes('"kind":"end"'))
          .map((line) => JSON.parse(line) as { wallTimeS: number; peakRssBytes: number }),
      ),
    );
    const evaluated = await runMain(
      ['evaluate', '--captions', join(out, 'medical_captions_train.csv'), '--out', out],
      { env: {} },
    );
    expect(evaluated.code, evaluated.err).toBe(0);
    const { run } = JSON.parse(await readFile(join(out, 'medical_train_aggregate.json'), 'utf8'));
    const wall = ends.flat().reduce((sum, end) => sum + end.wallTimeS, 0);
    expect(run.wallTimeS).toBeCloseTo(wall, 9);
    expect(run.peakRssBytes).toBe(Math.max(...ends.flat().map((end) => end.peakRssBytes)));
    expect(run.images).toBe(17);
    expect(run.generation).not.toBeNull();
    expect(run.model).toBe('fake-model');
  });
});
