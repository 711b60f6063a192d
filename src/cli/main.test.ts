import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../../test/support/main-in-process.js';
import { ignoreClosedPipe } from './main.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-main-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = root) {
  const { code, err } = await runMain(argv, { env, cwd });
  return { code, lines: err.trimEnd().split('\n') };
}

function parsed(lines: string[]): Array<{ level: string; message: string }> {
  return lines.map((line) => JSON.parse(line));
}

describe('--log-format json: every line on stderr is JSON, usage errors included', () => {
  it('an unknown flag, from --log-format json or --log-format=json', async () => {
    for (const format of [['--log-format', 'json'], ['--log-format=json']]) {
      const result = await cli(['caption', ...format, '--data', root, '--bogus']);
      expect(result.code).toBe(1);
      expect(parsed(result.lines)).toMatchObject([
        { level: 'error', message: "unknown option '--bogus'" },
      ]);
    }
  });

  it('a missing option argument, with MEDCAP_LOG_FORMAT=json', async () => {
    const result = await cli(['caption', '--batch-size'], { MEDCAP_LOG_FORMAT: 'json' });
    expect(result.code).toBe(1);
    expect(parsed(result.lines)[0]!.message).toMatch(/--batch-size <n>' argument missing/);
  });

  it('a bad value in a config file that asks for JSON logs', async () => {
    const cwd = await mkdtemp(join(root, 'file-'));
    await writeFile(
      join(cwd, 'medcap.config.json'),
      JSON.stringify({ logFormat: 'json', batchSize: 0 }),
    );
    const result = await cli(['caption', '--data', root], {}, cwd);
    expect(result.code).toBe(1);
    expect(parsed(result.lines)[0]!.message).toMatch(/--batch-size from key 'batchSize'/);
    const unknown = await cli(['caption', '--frob'], {}, cwd);
    expect(parsed(unknown.lines)[0]!.message).toBe("unknown option '--frob'");
  });

  it('text stays text, with the hint to --help', async () => {
    const result = await cli(['caption', '--bogus']);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      "error: unknown option '--bogus'",
      '(run with --help for usage)',
    ]);
  });
});

describe('--data that is not there', () => {
  it('says so (exit 1), rather than that it cannot tell the layout', async () => {
    const result = await cli(['caption', '--data', 'no-such-dataset']);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      `error: --data ${join(root, 'no-such-dataset')}: no such file or folder`,
    ]);
  });
});

describe('ignoreClosedPipe', () => {
  const failure = (code: string) => Object.assign(new Error(`write ${code}`), { code });

  it('lets a reader close stdout early (| head -1) without failing the command', () => {
    const stdout = new PassThrough();
    ignoreClosedPipe(stdout);
    expect(() => stdout.emit('error', failure('EPIPE'))).not.toThrow();
  });

  it('still throws any other write error', () => {
    const stdout = new PassThrough();
    ignoreClosedPipe(stdout);
    expect(() => stdout.emit('error', failure('ENOSPC'))).toThrow('write ENOSPC');
  });
});
