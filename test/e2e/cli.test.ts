import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shownDefault } from '../../src/cli/help.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS, EVALUATE_OPTIONS } from '../../src/config/schema.js';
import { FakeEngine } from '../support/fake-engine.js';
import { runMain } from '../support/main-in-process.js';

function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return runMain(argv, { env });
}

/** The split report and evaluate take without --split, as their help says it. */
const SPLIT_CHOSEN: Record<string, string> = {
  report: 'the one split DIR holds; with several, name one',
  evaluate: "the split the captions file's name gives, else train",
};

describe('medcap CLI', () => {
  it('registers every command of the spec', async () => {
    const { code, out } = await cli(['--help']);
    expect(code).toBe(0);
    for (const command of [
      'run',
      'caption',
      'evaluate',
      'report',
      'compare',
      'merge',
      'export-batch',
      'import-batch',
      'doctor',
      'demo',
    ]) {
      expect(out).toMatch(new RegExp(`\\n\\s+${command}\\b`));
    }
  });

  it("shows each option's default in every command's help", async () => {
    const specs = [...COMMON_OPTIONS, ...CAPTION_OPTIONS, ...EVALUATE_OPTIONS];
    const caption = await cli(['caption', '--help']);
    const flat = caption.out.replace(/\s+/g, ' ');
    expect(flat).toContain('--batch-size <n> images per generate call');
    expect(flat).toMatch(/--batch-size <n> (?:(?! --).)*\(default: 8\)/);
    expect(flat).toMatch(/--cache-memory <size> (?:(?! --).)*\(default: 9GB\)/);
    expect(flat).toMatch(/--limit <n> (?:(?! --).)*\(default: 1000\)/);
    for (const command of [
      'run',
      'caption',
      'evaluate',
      'report',
      'compare',
      'merge',
      'doctor',
      'demo',
    ]) {
      const { code, out } = await cli([command, '--help']);
      expect(code).toBe(0);
      const help = out.replace(/\s+/g, ' ');
      for (const spec of specs) {
        const shown = shownDefault(spec.default);
        if (shown === undefined || !help.includes(`${spec.flag} `)) continue;
        const expected =
          command === 'demo' && spec.key === 'out'
            ? 'results_demo'
            : SPLIT_CHOSEN[command] !== undefined && spec.key === 'split'
              ? SPLIT_CHOSEN[command]
              : shown;
        expect(help, `${command} ${spec.flag}`).toContain(`(default: ${expected})`);
      }
    }
  });

  it('offers export-batch and import-batch only the caption options they use', async () => {
    for (const command of ['export-batch', 'import-batch']) {
      const help = (await cli([command, '--help'])).out;
      for (const used of [
        '--data',
        '--limit',
        '--prompt',
        '--max-new-tokens',
        '--image-encoding',
      ]) {
        expect(help, `${command} ${used}`).toContain(`${used} `);
      }
      for (const unused of ['--device', '--batch-size', '--resume', '--concurrency']) {
        expect(help, `${command} ${unused}`).not.toContain(`${unused} `);
      }
      const refused = await cli([command, '--data', '.', '--device', 'cuda']);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/--device/);
    }
  });

  it.skipIf(!existsSync('/proc/self'))(
    'exits 1 at once for an --out where no folder can be made, and doctor says so',
    async () => {
      const caption = await cli([
        'caption',
        '--data',
        '.',
        '--format',
        'folder',
        '--out',
        '/proc/medcap-x',
      ]);
      expect(caption.code).toBe(1);
      expect(caption.err).toContain('--out /proc/medcap-x: the output folder is not writable');
      const doctor = await cli(['doctor', '--out', '/proc/medcap-x']);
      expect(doctor.out).toMatch(/\/proc\/medcap-x is not writable/);
    },
    60_000,
  );

  it('exits 1 naming the option and what is allowed', async () => {
    const bad = await cli(['caption', '--data', '.', '--device', 'tpu', '--batch-size', '-3']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--device from the command line: .*allowed: cpu, webgpu, cuda, auto/);
    expect(bad.err).toMatch(/--batch-size from the command line/);
    const env = await cli(['caption', '--data', '.'], { MEDCAP_LIMIT: 'many' });
    expect(env.code).toBe(1);
    expect(env.err).toMatch(/--limit from environment variable MEDCAP_LIMIT/);
  });

  it('exits 1 on unknown options and commands, and when --data is missing', async () => {
    expect((await cli(['caption', '--bogus'])).code).toBe(1);
    expect((await cli(['frobnicate'])).code).toBe(1);
    const missing = await cli(['caption']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--data is required/);
  });

  it('exits 1 naming --data when the dataset is not there, whatever the format', async () => {
    const result = await cli(['caption', '--data', '/nonexistent/dataset', '--format', 'rocov2']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/--data \/nonexistent\/dataset: no such file or folder/);
  });

  it('exits 1 naming --data, the path and what --format reads when --data is the wrong kind, before --out is made', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medcap-data-kind-'));
    try {
      const image = join(root, 'scan.jpg');
      await writeFile(image, 'not looked at');
      const folder = join(root, 'images');
      await mkdir(folder);
      const cases: [string, string, string][] = [
        [image, 'folder', 'is a file, not a folder (--format folder reads a folder of images)'],
        [
          image,
          'rocov2',
          'is a file, not a folder (--format rocov2 reads a folder with {split}_captions.csv and {split}/)',
        ],
        [
          image,
          'roco',
          'is a file, not a folder (--format roco reads a folder with {split}/radiology/captions.txt)',
        ],
        [
          folder,
          'manifest',
          'is a folder, not a file (--format manifest reads a .csv or .jsonl manifest file)',
        ],
      ];
      let n = 0;
      for (const [data, format, problem] of cases) {
        for (const command of [['caption'], ['run'], ['export-batch'], ['import-batch', image]]) {
          n += 1;
          const out = join(root, `out-${n}`);
          const argv = [...command, '--data', data, '--format', format, '--out', out];
          const result = await runMain(argv, { env: {}, engine: new FakeEngine() });
          const what = `${argv.join(' ')}\n${result.err}`;
          expect(result.code, what).toBe(1);
          expect(result.err, what).toContain(`--data ${data}: ${problem}`);
          expect(existsSync(out), `${what}: --out made`).toBe(false);
        }
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
