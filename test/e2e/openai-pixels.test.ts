import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { preprocessImage } from '../../src/images/preprocess.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { type DecodedImage, FakeOpenAIServer } from '../support/fake-openai-server.js';

/**
 * What the model sees in each `--image-encoding` mode: the fake server decodes every image
 * it receives, and the test compares those pixels with what the embedded engine would
 * get from the same file (`preprocessImage`).
 */

let root: string;
let data: string;
const files: { path: string; bytes: Buffer; unchanged: boolean }[] = [];

/** Shading plus speckle; one channel is written as a one-channel JPEG. */
async function scan(width: number, height: number, channels: 1 | 3, seed: number) {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    pixels[i] = (Math.floor(i / channels / 7) % 200) + (seed % 40);
  }
  const image = sharp(pixels, { raw: { width, height, channels } });
  return (channels === 1 ? image.toColourspace('b-w') : image).jpeg({ quality: 90 }).toBuffer();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-pixels-'));
  data = await writeRocov2(join(root, 'data'), imageSpecs(4));
  const shapes: [number, number, 1 | 3, boolean][] = [
    [448, 336, 1, true], // grey, already on the grid: sent as it is in auto
    [224, 224, 3, true], // RGB, on the grid
    [500, 375, 3, false], // needs resizing
    [301, 611, 1, false], // grey, needs resizing
  ];
  for (const [i, [width, height, channels, unchanged]] of shapes.entries()) {
    const path = join(data, 'train', `IMG_${String(i + 1).padStart(4, '0')}.jpg`);
    const bytes = await scan(width, height, channels, i + 3);
    await writeFile(path, bytes);
    files.push({ path, bytes, unchanged });
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function received(encoding: string) {
  const images: { image: DecodedImage; bytes: Buffer }[] = [];
  const server = await FakeOpenAIServer.start({
    reply: (request, image) => {
      const uri = request.body.messages[0]!.content[0]!.image_url!.url;
      images.push({ image, bytes: Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64') });
      return {};
    },
  });
  try {
    const code = await main(
      [
        'caption',
        '--engine',
        'openai',
        '--endpoint',
        server.url,
        '--data',
        data,
        '--out',
        join(root, `out-${encoding}`),
        '--image-encoding',
        encoding,
        '--quiet',
      ],
      { env: {}, writeErr: () => {}, writeOut: () => {} },
    );
    expect(code).toBe(0);
  } finally {
    await server.close();
  }
  expect(images).toHaveLength(files.length);
  return images;
}

function meanDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.byteLength !== b.byteLength) return Number.POSITIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('the pixels a server receives, per --image-encoding', () => {
  for (const encoding of ['auto', 'png', 'jpeg'] as const) {
    it(`${encoding}: ${encoding === 'jpeg' ? 'close to' : 'exactly'} the embedded engine's pixels`, async () => {
      const images = await received(encoding);
      for (const file of files) {
        const embedded = await preprocessImage('x', file.path, await readFile(file.path), {
          minPixels: 56 * 56,
          maxPixels: 448 * 448,
        });
        const distances = images.map(({ image }) => meanDifference(image.rgb, embedded.pixels));
        const best = Math.min(...distances);
        const match = images[distances.indexOf(best)]!;
        expect([match.image.width, match.image.height]).toEqual([embedded.width, embedded.height]);
        if (encoding === 'jpeg') {
          expect(match.image.mime).toBe('image/jpeg');
          expect(best).toBeGreaterThan(0);
          expect(best).toBeLessThan(4);
        } else {
          expect(best).toBe(0);
          const sentAsIs = encoding === 'auto' && file.unchanged;
          expect(match.image.mime).toBe(sentAsIs ? 'image/jpeg' : 'image/png');
          expect(match.bytes.equals(file.bytes)).toBe(sentAsIs);
        }
      }
    });
  }
});
