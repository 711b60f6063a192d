/**
 * Crashes (issue #11 §1): 20 runs, each kill -9'd (whole process group) at a moment drawn
 * from a seeded random sequence, spread over preprocessing, mid-batch, journal appends,
 * checkpoint writes, the final CSV write, evaluate's output writes and merge. Each is
 * resumed (or rerun) and must leave the files an uninterrupted run leaves (timing columns
 * aside), every image exactly once, and no torn or duplicate line in any file.
 *
 * The moments are reached with the test-only pause points of test/support/cli-child.ts.
 * Replay a failure with MEDCAP_CRASH_SEED=<seed printed below>.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/metrics/statistics.js';
import {
  type CliOutcome,
  checkJournal,
  csvWithout,
  FAULT_BATCH,
  FAULT_CHECKPOINT_EVERY,
  faultCaptionArgs,
  filesIn,
  runCli,
} from '../support/cli-process.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';

const SEED = Number(process.env.MEDCAP_CRASH_SEED ?? 20_261_206);
const IMAGES = 60;
const BATCH = FAULT_BATCH;
const EVERY = FAULT_CHECKPOINT_EVERY;
const CAPTIONS = 'medical_captions_train.csv';
const JOURNAL = 'medical_captions_train.journal.jsonl';
const EVALUATE_FILES = [
  'medical_captions_train_with_metrics.csv',
  'medical_train_detailed.csv',
  'medical_train_aggregate.json',
  'medical_train_summary.txt',
];
const TIMING = ['processing_time_s'];
const CHECKPOINT = /^checkpoint_\d+\.csv$/;

type Stage = 'caption' | 'evaluate' | 'merge';
interface Scenario {
  stage: Stage;
  pauseAt: string;
}

/** The 20 kill points, drawn from the seed: which image, batch, append or file each hits. */
function scenarios(seed: number): Scenario[] {
  const next = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const between = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
  const checkpoint = () => `checkpoint_${EVERY * between(1, Math.floor(IMAGES / EVERY))}.csv`;
  const writeOrRename = () => pick(['write', 'rename'] as const);
  const list: Scenario[] = [];
  // Distinct moments where the choices allow it (a few redraws, then a repeat is fine).
  const add = (count: number, stage: Stage, point: () => string) => {
    for (let i = 0; i < count; i++) {
      let pauseAt = point();
      for (let tries = 0; tries < 20 && list.some((s) => s.pauseAt === pauseAt); tries++)
        pauseAt = point();
      list.push({ stage, pauseAt });
    }
  };
  add(3, 'caption', () => `read:${between(1, IMAGES)}`);
  add(4, 'caption', () => `generate:${between(1, IMAGES / BATCH)}`);
  // Append 1 is the start line; then one per batch.
  add(2, 'caption', () => `journal:${between(2, IMAGES / BATCH + 1)}`);
  add(2, 'caption', () => `write:${checkpoint()}`);
  add(2, 'caption', () => `rename:${checkpoint()}`);
  add(2, 'caption', () => `${writeOrRename()}:${CAPTIONS}`);
  add(3, 'evaluate', () => `${writeOrRename()}:${pick(EVALUATE_FILES)}`);
  add(2, 'merge', () => `${writeOrRename()}:${pick([CAPTIONS, JOURNAL])}`);
  return list;
}

let root: string;
let data: string;
const dirs = {
  reference: '',
  evaluateReference: '',
  shards: [] as string[],
  mergeReference: '',
};

const captionArgs = (out: string, extra: string[] = []) =>
  faultCaptionArgs(data, out, ['--keep-checkpoints', '0', ...extra]);
const evaluateArgs = (out: string) => [
  'evaluate',
  '--captions',
  join(dirs.reference, CAPTIONS),
  '--out',
  out,
  '--metrics',
  'bleu,rouge,cider',
  '--bootstrap',
  '50',
];
const mergeArgs = (out: string) => ['merge', ...dirs.shards, '--out', out];

function expectExit(outcome: CliOutcome, code: number): void {
  expect(outcome.code, outcome.stderr).toBe(code);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-crashes-'));
  data = await writeRocov2(join(root, 'data'), imageSpecs(IMAGES));
  dirs.reference = join(root, 'reference');
  dirs.evaluateReference = join(root, 'evaluate-reference');
  dirs.mergeReference = join(root, 'merge-reference');
  dirs.shards = [join(root, 'shard-1'), join(root, 'shard-2')];
  expectExit(await runCli(captionArgs(dirs.reference)), 0);
  expectExit(await runCli(evaluateArgs(dirs.evaluateReference)), 0);
  for (const [i, shard] of dirs.shards.entries())
    expectExit(await runCli(captionArgs(shard, ['--shard', `${i}/2`])), 0);
  expectExit(await runCli(mergeArgs(dirs.mergeReference)), 0);
  process.stdout.write(`crash suite seed ${SEED} (replay with MEDCAP_CRASH_SEED=${SEED})\n`);
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** What a kill may leave: whole visible files, at most a torn last journal line. */
function expectNothingTornVisible(out: string): void {
  for (const name of filesIn(out, CHECKPOINT)) {
    const n = Number(/\d+/.exec(name)![0]);
    expect(csvWithout(join(out, name), []), name).toHaveLength(n + 1);
  }
  if (existsSync(join(out, CAPTIONS)))
    expect(csvWithout(join(out, CAPTIONS), [])).toHaveLength(IMAGES + 1);
  if (existsSync(join(out, JOURNAL))) checkJournal(join(out, JOURNAL));
}

/** The resumed run's files against the uninterrupted run's. */
function expectSameCaptionFiles(out: string): void {
  const reference = dirs.reference;
  expect(csvWithout(join(out, CAPTIONS), TIMING)).toEqual(
    csvWithout(join(reference, CAPTIONS), TIMING),
  );
  const checkpoints = filesIn(reference, CHECKPOINT);
  expect(checkpoints).toHaveLength(Math.floor(IMAGES / EVERY));
  expect(filesIn(out, CHECKPOINT)).toEqual(checkpoints);
  for (const name of checkpoints)
    expect(csvWithout(join(out, name), TIMING), name).toEqual(
      csvWithout(join(reference, name), TIMING),
    );
  const journal = checkJournal(join(out, JOURNAL));
  expect(journal.tornBytes).toBe(0);
  expect(journal.items.map((item) => item.index).sort((a, b) => a - b)).toEqual(
    Array.from({ length: IMAGES }, (_, i) => i),
  );
  const ids = csvWithout(join(out, CAPTIONS), [])
    .slice(1)
    .map((record) => record[0]);
  expect(new Set(ids).size).toBe(IMAGES);
  expect(filesIn(out, /\.tmp$/)).toEqual([]);
}

function expectSameBytes(out: string, reference: string, names: readonly string[]): void {
  for (const name of names)
    expect(readFileSync(join(out, name), 'utf8'), name).toBe(
      readFileSync(join(reference, name), 'utf8'),
    );
}

describe(`kill -9 at 20 seeded moments (seed ${SEED})`, () => {
  const list = scenarios(SEED);
  it('draws 20 moments covering every stage', () => {
    expect(list).toHaveLength(20);
    const kinds = new Set(list.map((s) => `${s.stage}/${s.pauseAt.split(':')[0]}`));
    for (const kind of ['caption/read', 'caption/generate', 'caption/journal'])
      expect(kinds).toContain(kind);
    const files = list.map((s) => `${s.stage}/${s.pauseAt.split(':')[1]}`);
    expect(files.some((f) => /^caption\/checkpoint_/.test(f))).toBe(true);
    expect(files).toContain(`caption/${CAPTIONS}`);
    expect(files.some((f) => f.startsWith('evaluate/'))).toBe(true);
    expect(files.some((f) => f.startsWith('merge/'))).toBe(true);
  });

  for (const [i, scenario] of list.entries()) {
    it(`run ${i + 1}: ${scenario.stage}, killed at ${scenario.pauseAt}`, async () => {
      const out = join(root, `run-${i + 1}`);
      const args =
        scenario.stage === 'caption'
          ? captionArgs(out)
          : scenario.stage === 'evaluate'
            ? evaluateArgs(out)
            : mergeArgs(out);
      const killed = await runCli(args, { pauseAt: scenario.pauseAt, killOnPause: true });
      expect(killed.pausedAt, killed.stderr).toBe(scenario.pauseAt);
      expect(killed.signal).toBe('SIGKILL');
      expectNothingTornVisible(out);

      if (scenario.stage === 'caption') {
        expectExit(await runCli(captionArgs(out, ['--resume'])), 0);
        expectSameCaptionFiles(out);
      } else if (scenario.stage === 'evaluate') {
        expectExit(await runCli(args), 0);
        expectSameBytes(out, dirs.evaluateReference, EVALUATE_FILES);
        expect(filesIn(out, /\.tmp$/)).toEqual([]);
      } else {
        expectExit(await runCli(args), 0);
        expectSameBytes(out, dirs.mergeReference, [CAPTIONS, JOURNAL]);
        expect(filesIn(out, /\.tmp$/)).toEqual([]);
      }
    }, 60_000);
  }
});
