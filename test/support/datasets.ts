import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

export interface ImageSpec {
  id: string;
  width: number;
  height: number;
  caption: string;
  /** What to write instead of a good JPEG. */
  kind?: 'good' | 'corrupt' | 'empty' | 'missing';
}

/** A solid image whose brightness depends on the id, so captions differ between images. */
export async function jpeg(width: number, height: number, seed: number): Promise<Buffer> {
  const level = (seed * 53) % 256;
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: { r: level, g: (level * 3) % 256, b: 255 - level },
    },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
}

/** Writes a ROCOv2-layout dataset: `{split}_captions.csv` and `{split}/{ID}.jpg`. */
export async function writeRocov2(
  root: string,
  specs: readonly ImageSpec[],
  options: { split?: string; concepts?: Record<string, string> } = {},
): Promise<string> {
  const split = options.split ?? 'train';
  await mkdir(join(root, split), { recursive: true });
  const lines = ['ID,Caption'];
  let seed = 1;
  for (const spec of specs) {
    lines.push(`${spec.id},"${spec.caption.replaceAll('"', '""')}"`);
    const path = join(root, split, `${spec.id}.jpg`);
    const kind = spec.kind ?? 'good';
    if (kind === 'good') await writeFile(path, await jpeg(spec.width, spec.height, seed));
    if (kind === 'corrupt')
      await writeFile(path, Buffer.from('\xff\xd8\xff\xe0 this is not really a jpeg', 'latin1'));
    if (kind === 'empty') await writeFile(path, Buffer.alloc(0));
    seed += 1;
  }
  await writeFile(join(root, `${split}_captions.csv`), `${lines.join('\r\n')}\r\n`);
  if (options.concepts) {
    const conceptLines = [
      'ID,CUIs',
      ...Object.entries(options.concepts).map(([id, cuis]) => `${id},${cuis}`),
    ];
    await writeFile(join(root, `${split}_concepts.csv`), `${conceptLines.join('\n')}\n`);
  }
  return root;
}

/** `n` good images, sizes cycling through `sizes`. */
export function imageSpecs(
  n: number,
  sizes: readonly [number, number][] = [[64, 48]],
): ImageSpec[] {
  return Array.from({ length: n }, (_, i) => {
    const [width, height] = sizes[i % sizes.length]!;
    return {
      id: `IMG_${String(i + 1).padStart(4, '0')}`,
      width,
      height,
      caption: `A test scan number ${i + 1}.`,
    };
  });
}
