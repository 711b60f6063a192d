import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { prepareEncodedImage } from './encoded.js';
import { IMAGE_TIMEOUT_S, preprocessImage, withImageErrors } from './preprocess.js';

const policy = { minPixels: 56 * 56, maxPixels: 448 * 448 };

/** Mean of each channel of a prepared image, rounded. */
function meanColour(pixels: Uint8Array): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < pixels.length; i++) sums[i % 3]! += pixels[i]!;
  return sums.map((sum) => Math.round(sum / (pixels.length / 3)));
}

/** A 64x32 image of 16-bit samples, every pixel `values` (one per channel). */
function sixteenBit(values: number[]) {
  const channels = values.length as 1 | 2 | 3 | 4;
  const samples = new Uint16Array(64 * 32 * channels).map((_, i) => values[i % channels]!);
  return sharp(samples, { raw: { width: 64, height: 32, channels } }).toColourspace(
    channels < 3 ? 'grey16' : 'rgb16',
  );
}

/** A PNG chunk with its CRC. */
function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  let crc = 0xffffffff;
  for (const byte of body) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0, 8 + data.length);
  return out;
}

/** `png` with an iCCP chunk holding `profile` right after its IHDR: its samples unchanged. */
function withIccChunk(png: Buffer, profile: Buffer): Buffer {
  const afterHeader = 8 + 25; // signature, then IHDR (4 length + 4 type + 13 data + 4 CRC)
  const data = Buffer.concat([Buffer.from('P3\0\0', 'latin1'), deflateSync(profile)]);
  return Buffer.concat([
    png.subarray(0, afterHeader),
    pngChunk('iCCP', data),
    png.subarray(afterHeader),
  ]);
}

describe('preprocessImage', () => {
  it('decodes grey, 16-bit and alpha images into 8-bit RGB on the 28-px grid', async () => {
    const grey16 = await sharp(Buffer.alloc(100 * 60 * 2, 0x80), {
      raw: { width: 100, height: 60, channels: 1 },
    })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const rgba = await sharp({
      create: {
        width: 90,
        height: 90,
        channels: 4,
        background: { r: 255, g: 0, b: 0, alpha: 0.5 },
      },
    })
      .png()
      .toBuffer();
    for (const bytes of [grey16, rgba]) {
      const image = await preprocessImage('x', 'x.png', bytes, policy);
      expect(image.width % 28).toBe(0);
      expect(image.height % 28).toBe(0);
      expect(image.pixels.byteLength).toBe(image.width * image.height * 3);
      expect(image.gridThw).toEqual([1, image.height / 14, image.width / 14]);
    }
  });

  it('stretches 16-bit grey from its darkest to its brightest value (12 bits in 16 are not black)', async () => {
    // Left half 200, right half 4000: a 12-bit X-ray in a 16-bit PNG, with and without alpha.
    const halves = (channels: 1 | 2) => {
      const samples = new Uint16Array(64 * 32 * channels).map((_, i) => {
        if (channels === 2 && i % 2 === 1) return 0xffff;
        return Math.floor(i / channels) % 64 < 32 ? 200 : 4000;
      });
      return sharp(samples, { raw: { width: 64, height: 32, channels } })
        .toColourspace('grey16')
        .png()
        .toBuffer();
    };
    for (const channels of [1, 2] as const) {
      const image = await preprocessImage('x', 'x.png', await halves(channels), {
        ...policy,
        imageSize: 56,
      });
      const row = Array.from({ length: 56 }, (_, x) => image.pixels[(28 * 56 + x) * 3]!);
      expect(row[0], `${channels} channels`).toBe(0);
      expect(row[55], `${channels} channels`).toBe(255);
    }
  });

  it('applies EXIF orientation before sizing', async () => {
    const rotated = await sharp({
      create: { width: 200, height: 100, channels: 3, background: '#888' },
    })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const image = await preprocessImage('r', 'r.jpg', rotated, policy);
    expect(image.originalWidth).toBe(100);
    expect(image.originalHeight).toBe(200);
    expect(image.height).toBeGreaterThan(image.width);
  });

  it('gives the documented pixels: 16 bits scaled to 8 (top byte), alpha and palette transparency flattened onto white', async () => {
    const cases: [string, Promise<Buffer>, number[]][] = [
      ['16-bit RGB PNG', sixteenBit([0xc8c8, 0x2828, 0x0a0a]).png().toBuffer(), [200, 40, 10]],
      ['16-bit RGB TIFF', sixteenBit([0xc8c8, 0x2828, 0x0a0a]).tiff().toBuffer(), [200, 40, 10]],
      ['16-bit grey TIFF', sixteenBit([0x4040]).tiff().toBuffer(), [64, 64, 64]],
      ['16-bit grey + alpha PNG', sixteenBit([0xc8c8, 0x8080]).png().toBuffer(), [228, 228, 228]],
      [
        '16-bit RGBA PNG',
        sixteenBit([0xc8c8, 0, 0xffff, 0x8080]).png().toBuffer(),
        [228, 128, 255],
      ],
      [
        'palette PNG with transparency',
        sharp({
          create: {
            width: 64,
            height: 32,
            channels: 4,
            background: { r: 200, g: 40, b: 40, alpha: 0.5 },
          },
        })
          .png({ palette: true })
          .toBuffer(),
        [228, 148, 148],
      ],
      [
        'progressive JPEG',
        sharp({
          create: { width: 64, height: 32, channels: 3, background: { r: 200, g: 40, b: 40 } },
        })
          .jpeg({ progressive: true, quality: 100 })
          .toBuffer(),
        [200, 40, 40],
      ],
      [
        '1x1 PNG',
        sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 9, g: 99, b: 199 } } })
          .png()
          .toBuffer(),
        [9, 99, 199],
      ],
    ];
    for (const [name, bytes, expected] of cases) {
      const image = await preprocessImage('x', `${name}.img`, await bytes, policy);
      const mean = meanColour(image.pixels);
      expect(
        mean.every((v, i) => Math.abs(v - expected[i]!) <= 1),
        `${name}: ${mean} vs ${expected}`,
      ).toBe(true);
    }
  });

  it("reads an RGB file's samples as they are, whatever ICC profile it embeds, as PIL does", async () => {
    const solid = () =>
      sharp({
        create: { width: 64, height: 32, channels: 3, background: { r: 200, g: 60, b: 40 } },
      })
        .png()
        .toBuffer();
    const p3 = await sharp(await solid())
      .withIccProfile('p3')
      .png()
      .toBuffer();
    const profile = (await sharp(p3).metadata()).icc!;
    expect(profile.length).toBeGreaterThan(100);
    const tagged = withIccChunk(await solid(), profile);
    expect((await sharp(tagged).metadata()).hasProfile).toBe(true);
    // Through the profile, P3's 200/60/40 would be a redder sRGB colour, far from these samples.
    const image = await preprocessImage('x', 'p3.png', tagged, policy);
    expect(meanColour(image.pixels)).toEqual([200, 60, 40]);
  });

  it("keeps the colour an RGB PNG's tRNS chunk names, as PIL opens it as RGB", async () => {
    const halves = Buffer.alloc(64 * 32 * 3);
    for (let i = 0; i < 64 * 32; i++) halves.set(i % 64 < 32 ? [200, 60, 40] : [10, 20, 30], 3 * i);
    const png = await sharp(halves, { raw: { width: 64, height: 32, channels: 3 } })
      .png()
      .toBuffer();
    const afterHeader = 8 + 25;
    const transparent = Buffer.from([0, 200, 0, 60, 0, 40]); // 16-bit samples of 200/60/40
    const tagged = Buffer.concat([
      png.subarray(0, afterHeader),
      pngChunk('tRNS', transparent),
      png.subarray(afterHeader),
    ]);
    expect((await sharp(tagged).metadata()).hasAlpha).toBe(true);
    const image = await preprocessImage('x', 'trns.png', tagged, policy);
    const mean = meanColour(image.pixels); // the two halves, neither white: 105/40/35
    expect(
      mean.every((v, i) => Math.abs(v - [105, 40, 35][i]!) <= 1),
      `${mean}`,
    ).toBe(true);
  });

  it('turns EXIF orientation 6 and 8 the right way (left half red: on top after 6, at the bottom after 8)', async () => {
    const raw = Buffer.alloc(64 * 32 * 3);
    for (let i = 0; i < 64 * 32; i++) raw.set(i % 64 < 32 ? [255, 0, 0] : [0, 0, 255], i * 3);
    for (const [orientation, topRed] of [
      [6, true],
      [8, false],
    ] as const) {
      const bytes = await sharp(raw, { raw: { width: 64, height: 32, channels: 3 } })
        .jpeg({ quality: 100 })
        .withMetadata({ orientation })
        .toBuffer();
      const image = await preprocessImage('o', 'o.jpg', bytes, policy);
      const rowBytes = image.width * 3;
      const top = meanColour(image.pixels.subarray(0, rowBytes * 4));
      const bottom = meanColour(image.pixels.subarray(image.pixels.length - rowBytes * 4));
      const red = (c: number[]) => c[0]! > 200 && c[2]! < 50;
      expect([red(top), red(bottom)], `orientation ${orientation}`).toEqual([topRed, !topRed]);
    }
  });

  it('says what a refused file holds: a damaged TIFF, a BMP, a Git LFS pointer, an HTML page', async () => {
    const tiff = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } })
      .tiff()
      .toBuffer();
    const bmp = Buffer.alloc(70);
    bmp.write('BM');
    bmp.writeUInt32LE(70, 2);
    bmp.writeUInt32LE(54, 10);
    const cases: [string, Uint8Array, RegExp][] = [
      [
        't.tif',
        tiff.subarray(0, 40),
        /t\.tif: cannot decode image \(.*\): it starts as a TIFF image, so it is corrupt or truncated/,
      ],
      [
        'b.bmp',
        bmp,
        /b\.bmp: cannot decode image \(.*\): it is a BMP image, which medcap does not read; convert it to PNG first/,
      ],
      [
        'l.jpg',
        Buffer.from('version https://git-lfs.github.com/spec/v1\noid sha256:0a1b\nsize 52114\n'),
        /l\.jpg: cannot decode image \(.*\): it is a Git LFS pointer, not the image: fetch the files with `git lfs pull`/,
      ],
      [
        'h.png',
        Buffer.from('<!DOCTYPE html><html><body>403 Forbidden</body></html>'),
        /h\.png: .*: it is an HTML page/,
      ],
    ];
    for (const [name, bytes, message] of cases)
      await expect(preprocessImage('x', name, bytes, policy), name).rejects.toThrow(message);
    // Not a known format: no guess.
    await expect(
      preprocessImage('z', 'z.jpg', new Uint8Array([0, 1, 2, 3, 200]), policy),
    ).rejects.toThrow(/z\.jpg: cannot decode image \([^)]*\)$/);
  });

  it('reads a JPEG whose end-of-image marker is missing as the whole file, and still refuses one cut short', async () => {
    const whole = await sharp({
      create: {
        width: 280,
        height: 196,
        channels: 3,
        background: '#000',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg({ progressive: true })
      .toBuffer();
    const expected = await preprocessImage('w', 'w.jpg', whole, policy);
    const noMarker = whole.subarray(0, whole.length - 2);
    expect((await preprocessImage('n', 'n.jpg', noMarker, policy)).pixels).toEqual(expected.pixels);
    // A server engine that re-encodes it gets the whole file's pixels too.
    const png = async (bytes: Uint8Array) =>
      (await prepareEncodedImage('x', 'x.jpg', bytes, { ...policy, encoding: 'png' })).encoded!
        .bytes;
    expect(await png(noMarker)).toEqual(await png(whole));
    await expect(
      preprocessImage('t', 't.jpg', whole.subarray(0, whole.length - 300), policy),
    ).rejects.toThrow(/t\.jpg: cannot decode JPEG image data; the file is corrupt or truncated/);
  });

  it('refuses empty, corrupt and oversized images with the file name', async () => {
    await expect(preprocessImage('e', '/d/e.jpg', new Uint8Array(0), policy)).rejects.toThrow(
      /\/d\/e\.jpg: empty file/,
    );
    await expect(
      preprocessImage('c', '/d/c.jpg', Buffer.from('not an image'), policy),
    ).rejects.toThrow(/\/d\/c\.jpg: cannot decode image/);
    const big = await sharp({
      create: { width: 400, height: 400, channels: 3, background: '#000' },
    })
      .png()
      .toBuffer();
    await expect(
      preprocessImage('b', '/d/b.png', big, { ...policy, pixelLimit: 1000 }),
    ).rejects.toThrow(/\/d\/b\.png: image is larger than the pixel limit/);
  });

  it("refuses an aspect ratio over 200:1 as Qwen2-VL's processor does, for both engines, unless --image-size squares it", async () => {
    const strip = (width: number, height: number) =>
      sharp({ create: { width, height, channels: 3, background: '#369' } })
        .png()
        .toBuffer();
    const over = await strip(20100, 100);
    const refused =
      /\/d\/s\.png: 20100x100 px, an aspect ratio of 201:1, over the 200:1 .*--image-size/;
    await expect(preprocessImage('s', '/d/s.png', over, policy)).rejects.toThrow(refused);
    await expect(
      prepareEncodedImage('s', '/d/s.png', over, { ...policy, encoding: 'auto' }),
    ).rejects.toThrow(refused);
    const squared = await preprocessImage('s', '/d/s.png', over, { ...policy, imageSize: 224 });
    expect([squared.width, squared.height]).toEqual([224, 224]);
    // 200:1 itself is taken, within --max-pixels.
    const edge = await preprocessImage('e', '/d/e.png', await strip(100, 20000), policy);
    expect(edge.width * edge.height).toBeLessThanOrEqual(policy.maxPixels);
  });
});

describe('withImageErrors', () => {
  it("turns sharp's timeout (a decoder that does not finish) into an error naming the file", async () => {
    const error = await withImageErrors('scan.tif', new Uint8Array(8), policy, async () => {
      throw new Error('timeout: 37% complete');
    }).catch((e: unknown) => e as Error & { code?: string });
    expect(error.message).toBe(
      `scan.tif: decoding took longer than ${IMAGE_TIMEOUT_S} s and was stopped (a damaged file can make the decoder loop)`,
    );
    expect(error.code).toBe('IMAGE_TIMEOUT');
  });
});
