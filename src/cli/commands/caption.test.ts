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
});
