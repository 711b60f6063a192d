import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { preprocessImage } from './preprocess.js';

const policy = { minPixels: 56 * 56, maxPixels: 448 * 448 };

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
});
