import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import sharp from 'sharp';
import type { Logger } from '../../core/logger.js';
import { readImageAt } from '../../datasets/image-at.js';

export interface ThumbnailOptions {
  /** Folder a relative image_path is resolved against first (the current directory). */
  cwd: string;
  /** Tried second for relative paths (the run directory). */
  dir: string;
  /** Longest edge in pixels. */
  size?: number;
  concurrency?: number;
  logger?: Logger;
}

/** Refuse decompression bombs: larger images get no thumbnail. */
const PIXEL_LIMIT = 1 << 28;

/**
 * Small WebP thumbnails as data: URIs, keyed by image id; DICOM files and parquet rows are
 * read through the dataset readers. An image that cannot be found
 * or decoded simply gets no thumbnail (the report says "no image").
 */
export async function makeThumbnails(
  items: ReadonlyArray<{ id: string; imagePath: string }>,
  options: ThumbnailOptions,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const queue = [...items];
  let missing = 0;
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (out.has(item.id)) continue;
      const uri = await thumbnail(item.imagePath, options);
      if (uri) out.set(item.id, uri);
      else missing += 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  if (missing > 0) {
    options.logger?.debug(
      `report: ${missing} gallery image(s) could not be read; shown without a thumbnail`,
    );
  }
  return out;
}

/** The file an image_path names, tried against cwd, then the run directory. */
async function locate(imagePath: string, options: ThumbnailOptions): Promise<string | null> {
  if (imagePath.trim() === '') return null;
  // `file.parquet#row` names a row of a file: the file must exist.
  const parquet = /^(.*\.parquet)#(\d+)$/i.exec(imagePath);
  const file = parquet ? parquet[1]! : imagePath;
  const candidates = isAbsolute(file)
    ? [file]
    : [resolve(options.cwd, file), resolve(options.dir, file)];
  for (const candidate of candidates) {
    try {
      if ((await stat(candidate)).isFile())
        return parquet ? `${candidate}#${parquet[2]}` : candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

async function thumbnail(imagePath: string, options: ThumbnailOptions): Promise<string | null> {
  const path = await locate(imagePath, options);
  if (!path) return null;
  const size = options.size ?? 224;
  try {
    const buffer = await sharp(await readImageAt(path), {
      failOn: 'none',
      limitInputPixels: PIXEL_LIMIT,
    })
      .rotate()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 60, effort: 4 })
      .toBuffer();
    return `data:image/webp;base64,${buffer.toString('base64')}`;
  } catch {
    return null;
  }
}
