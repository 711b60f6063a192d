import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LIVE_PNG_OPTIONS } from '../engines/openai/image-uri.js';
import type { ImageEncoding } from '../engines/types.js';
import { prepareEncodedImage } from './encoded.js';
import { preprocessImage } from './preprocess.js';

const policy = { minPixels: 56 * 56, maxPixels: 448 * 448 };

/** Smooth shading plus speckle, in one or three channels: JPEG has work to do on it. */
function texture(width: number, height: number, channels: 1 | 3): Buffer {
  const pixels = Buffer.alloc(width * height * channels);
  let seed = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const base = 128 + 60 * Math.sin(x / 13) + 50 * Math.cos(y / 19);
      for (let c = 0; c < channels; c++) {
        const speckle = (seed >> (c * 4)) % 24;
        pixels[(y * width + x) * channels + c] = Math.max(
          0,
          Math.min(255, base + speckle - c * 20),
        );
      }
    }
  }
  return pixels;
}

function raw(width: number, height: number, channels: 1 | 3) {
  const image = sharp(texture(width, height, channels), { raw: { width, height, channels } });
  // Without this sharp writes a one-channel input as RGB.
  return channels === 1 ? image.toColourspace('b-w') : image;
}

/** RGB pixels of an encoded file, decoded the way a server's image library does. */
async function decoded(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer();
}

function difference(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.byteLength).toBe(b.byteLength);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

const files: Record<string, { bytes: () => Promise<Buffer>; unchanged: boolean }> = {
  'grey JPEG at its target size': {
    bytes: () => raw(448, 336, 1).jpeg({ quality: 90 }).toBuffer(),
    unchanged: true,
  },
  'RGB JPEG at its target size (4:2:0 chroma)': {
    bytes: () => raw(448, 448, 3).jpeg({ quality: 90 }).toBuffer(),
    unchanged: true,
  },
  'grey PNG at its target size': {
    bytes: () => raw(224, 280, 1).png().toBuffer(),
    unchanged: true,
  },
  'RGB JPEG that needs resizing': {
    bytes: () => raw(500, 375, 3).jpeg({ quality: 90 }).toBuffer(),
    unchanged: false,
  },
  'grey JPEG that needs resizing': {
    bytes: () => raw(700, 530, 1).jpeg({ quality: 90 }).toBuffer(),
    unchanged: false,
  },
  'grey JPEG shrunk to fewer pixels (512x512 to 448x448)': {
    bytes: () => raw(512, 512, 1).jpeg({ quality: 90 }).toBuffer(),
    unchanged: false,
  },
  'grey PNG enlarged to the minimum (40x30)': {
    bytes: () => raw(40, 30, 1).png().toBuffer(),
    unchanged: false,
  },
  'JPEG at its target size with an EXIF rotation': {
    bytes: () => raw(448, 336, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    unchanged: false,
  },
  'PNG at its target size with alpha': {
    bytes: () => raw(224, 224, 3).ensureAlpha(0.5).png().toBuffer(),
    unchanged: false,
  },
  'JPEG at its target size with an ICC profile': {
    bytes: () => raw(448, 448, 3).jpeg().withIccProfile('p3').toBuffer(),
    unchanged: false,
  },
  '16-bit PNG at its target size': {
    bytes: () => raw(224, 224, 1).toColourspace('grey16').png().toBuffer(),
    unchanged: false,
  },
  'WebP at its target size': {
    bytes: () => raw(224, 224, 3).webp({ lossless: true }).toBuffer(),
    unchanged: false,
  },
};

describe('prepareEncodedImage: the pixels a server decodes', () => {
  for (const [name, file] of Object.entries(files)) {
    it(`${name}: auto and png give exactly the embedded engine's pixels, jpeg nearly`, async () => {
      const bytes = await file.bytes();
      const embedded = await preprocessImage('x', 'x', bytes, policy);
      const sent: Record<ImageEncoding, Uint8Array> = { auto: bytes, png: bytes, jpeg: bytes };
      for (const encoding of ['auto', 'png', 'jpeg'] as const) {
        const image = await prepareEncodedImage('x', 'x', bytes, { ...policy, encoding });
        expect(image.pixels.byteLength).toBe(0);
        expect([image.width, image.height, image.gridThw]).toEqual([
          embedded.width,
          embedded.height,
          embedded.gridThw,
        ]);
        const encoded = image.encoded!;
        sent[encoding] = encoded.bytes;
        const meta = await sharp(encoded.bytes).metadata();
        expect([meta.width, meta.height]).toEqual([embedded.width, embedded.height]);
        expect(encoded.mime).toBe(`image/${meta.format}`);
        const { max, mean } = difference(await decoded(encoded.bytes), embedded.pixels);
        if (encoding === 'jpeg') {
          // Quality 95 on a speckled texture, the worst case for JPEG: small on average.
          expect(mean).toBeLessThan(4);
          expect(max).toBeLessThanOrEqual(32);
        } else {
          expect(max).toBe(0);
        }
      }
      // The stored (level 0) PNGs of live requests: the same pixels.
      for (const encoding of ['auto', 'png'] as const) {
        const image = await prepareEncodedImage('x', 'x', bytes, {
          ...policy,
          encoding,
          png: LIVE_PNG_OPTIONS,
        });
        if (encoding === 'auto' && file.unchanged) continue;
        expect(image.encoded!.mime).toBe('image/png');
        expect(difference(await decoded(image.encoded!.bytes), embedded.pixels).max).toBe(0);
      }
      // auto sends the file itself exactly when preprocessing would not change it.
      expect(Buffer.from(sent.auto).equals(bytes)).toBe(file.unchanged);
      expect(Buffer.from(sent.png).equals(bytes)).toBe(false);
    });
  }

  it('writes grey images as one-channel PNGs and JPEGs', async () => {
    const bytes = await raw(500, 375, 1).jpeg().toBuffer();
    for (const encoding of ['png', 'jpeg'] as const) {
      const image = await prepareEncodedImage('x', 'x', bytes, { ...policy, encoding });
      expect((await sharp(image.encoded!.bytes).metadata()).channels).toBe(1);
    }
  });

  it("grey images resized as one band: the embedded engine's pixels at any size", async () => {
    let seed = 11;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 24; i++) {
      const [width, height] = [8 + next(1200), 8 + next(1200)];
      const file = raw(width, height, 1);
      const bytes = await (i % 2 ? file.png() : file.jpeg({ quality: 85 })).toBuffer();
      const embedded = await preprocessImage('x', 'x', bytes, policy);
      const image = await prepareEncodedImage('x', 'x', bytes, { ...policy, encoding: 'png' });
      expect((await sharp(image.encoded!.bytes).metadata()).channels).toBe(1);
      expect(difference(await decoded(image.encoded!.bytes), embedded.pixels).max).toBe(0);
    }
  });

  it('refuses what preprocessing refuses, naming the file', async () => {
    const options = { ...policy, encoding: 'auto' as const };
    await expect(
      prepareEncodedImage('x', 'a/empty.jpg', new Uint8Array(0), options),
    ).rejects.toThrow(/a\/empty\.jpg: empty file/);
    await expect(
      prepareEncodedImage('x', 'a/text.jpg', Buffer.from('not an image'), options),
    ).rejects.toThrow(/a\/text\.jpg: cannot decode image/);
    const big = await raw(448, 448, 1).jpeg().toBuffer();
    await expect(
      prepareEncodedImage('x', 'a/big.jpg', big, { ...options, pixelLimit: 1000 }),
    ).rejects.toThrow(/a\/big\.jpg: image is larger than the pixel limit/);
  });
});
