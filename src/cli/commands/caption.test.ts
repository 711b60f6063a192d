import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captionConfig } from '../../../test/support/config.js';
import { silentLogger } from '../../core/logger.js';
import type { CommandContext } from '../main.js';
import { captionSettings } from './caption.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-caption-settings-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(): CommandContext {
  return { logger: silentLogger, env: {}, cwd: dir, writeOut: () => {}, interactive: false };
}

/** The options as the CLI hands them to a command. */
function asFlags(flags: Record<string, unknown>): Record<string, unknown> {
  return { ...captionConfig(flags) };
}

describe('captionSettings', () => {
  it('takes the concurrency as the batch size of the server engine, as its CSV rows say', async () => {
    const flags = { data: dir, format: 'folder', concurrency: 5 };
    const server = await captionSettings(asFlags({ ...flags, engine: 'openai' }), context());
    expect(server.batchSize).toBe(5);
    const embedded = await captionSettings(asFlags(flags), context());
    expect(embedded.batchSize).toBe(8);
  });

  it('refuses --image-size given with pixel bounds, and says the size a fixed one becomes', async () => {
    const flags = { data: dir, format: 'folder', imageSize: 300, maxPixels: 401408 };
    await expect(
      captionSettings(asFlags(flags), { ...context(), given: new Set(['imageSize', 'maxPixels']) }),
    ).rejects.toThrow(/^--image-size 300 and --max-pixels: give one or the other/);
    const said: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => said.push(m) };
    await captionSettings(asFlags({ data: dir, format: 'folder', imageSize: 300 }), {
      ...context(),
      logger,
      given: new Set(['imageSize']),
    });
    expect(said).toContain(
      '--image-size 300: images are 308x308 (Qwen2-VL works in multiples of 28 px)',
    );
  });
});
