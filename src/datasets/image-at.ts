import { dicomToPng } from './dicom/decode.js';
import { readImageFile } from './files.js';
import { readParquetImage } from './parquet/index.js';

/**
 * The encoded image behind an `image_path` as the loaders write it: a plain image file, a
 * DICOM file (rendered to PNG with the file's own window), or `file.parquet#row`.
 */
export async function readImageAt(imagePath: string): Promise<Uint8Array> {
  const parquet = /^(.*\.parquet)#(\d+)$/i.exec(imagePath);
  if (parquet) return readParquetImage(parquet[1]!, Number(parquet[2]));
  const bytes = await readImageFile(imagePath);
  if (/\.(dcm|dicom)$/i.test(imagePath)) return dicomToPng(bytes, imagePath);
  return bytes;
}
