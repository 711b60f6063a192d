import { decodableImage } from '../images/preprocess.js';
import { readImageFile } from './files.js';
import { readParquetImage } from './parquet/index.js';

/**
 * The encoded image behind an `image_path` as the loaders write it, in a format sharp reads:
 * a plain image file, a DICOM file (rendered to PNG with the file's own window, as
 * `openImage` does), or `file.parquet#row`.
 */
export async function readImageAt(imagePath: string): Promise<Uint8Array> {
  const parquet = /^(.*\.parquet)#(\d+)$/i.exec(imagePath);
  const bytes = parquet
    ? await readParquetImage(parquet[1]!, Number(parquet[2]))
    : await readImageFile(imagePath);
  return decodableImage(imagePath, bytes);
}
