// Runs one captioning job with the fake engine in its own process, so a test can kill -9 it.
// Usage: node --import tsx test/support/caption-child.ts '<json CaptionConfig flags>' <delayMs> [async]
// (`async`: an engine that does not block the thread, as a library caller's own may be)
import { caption } from '../../src/pipeline/run.js';
import { captionConfig } from './config.js';
import { FakeEngine } from './fake-engine.js';

const flags = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const delayMs = Number(process.argv[3] ?? '0');
const blocksThread = process.argv[4] !== 'async';
const result = await caption(captionConfig(flags), {
  engine: new FakeEngine({ delayMs, blocksThread }),
});
process.stdout.write(
  `${JSON.stringify({ processed: result.processed, resumed: result.resumed })}\n`,
);
