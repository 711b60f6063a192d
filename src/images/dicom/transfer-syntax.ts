/** How medcap reads the pixel data of a transfer syntax. */
export type PixelEncoding =
  /** Uncompressed pixels, little endian. */
  | 'native'
  /** Uncompressed pixels, big endian (retired, still found in archives). */
  | 'native-big-endian'
  /** 8-bit JPEG (baseline or extended), decoded by sharp from the encapsulated frame. */
  | 'jpeg'
  /** Lossless JPEG, process 14 (any predictor), decoded by jpeg-lossless-decoder-js. */
  | 'jpeg-lossless'
  /** JPEG-LS lossless or near-lossless, decoded by CharLS (WASM). */
  | 'jpeg-ls'
  /** JPEG 2000 and High-Throughput JPEG 2000, decoded by OpenJPEG (WASM). */
  | 'jpeg2000'
  /** RLE Lossless (PS3.5 Annex G), decoded by medcap itself. */
  | 'rle'
  /** Compressed with a codec medcap does not bundle. */
  | 'unsupported';

export interface TransferSyntax {
  uid: string;
  name: string;
  encoding: PixelEncoding;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

const SYNTAXES: readonly TransferSyntax[] = Object.freeze([
  { uid: IMPLICIT_VR_LITTLE_ENDIAN, name: 'Implicit VR Little Endian', encoding: 'native' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', encoding: 'native' },
  {
    uid: '1.2.840.10008.1.2.1.99',
    name: 'Deflated Explicit VR Little Endian',
    encoding: 'native',
  },
  {
    uid: '1.2.840.10008.1.2.2',
    name: 'Explicit VR Big Endian',
    encoding: 'native-big-endian',
  },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', encoding: 'jpeg' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', encoding: 'jpeg' },
  {
    uid: '1.2.840.10008.1.2.4.57',
    name: 'JPEG Lossless, Non-Hierarchical (Process 14)',
    encoding: 'jpeg-lossless',
  },
  {
    uid: '1.2.840.10008.1.2.4.70',
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    encoding: 'jpeg-lossless',
  },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encoding: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Near-Lossless', encoding: 'jpeg-ls' },
  {
    uid: '1.2.840.10008.1.2.4.90',
    name: 'JPEG 2000 Image Compression (Lossless Only)',
    encoding: 'jpeg2000',
  },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000 Image Compression', encoding: 'jpeg2000' },
  {
    uid: '1.2.840.10008.1.2.4.201',
    name: 'High-Throughput JPEG 2000 Image Compression (Lossless Only)',
    encoding: 'jpeg2000',
  },
  {
    uid: '1.2.840.10008.1.2.4.202',
    name: 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)',
    encoding: 'jpeg2000',
  },
  {
    uid: '1.2.840.10008.1.2.4.203',
    name: 'High-Throughput JPEG 2000 Image Compression',
    encoding: 'jpeg2000',
  },
  {
    uid: '1.2.840.10008.1.2.4.100',
    name: 'MPEG2 Main Profile / Main Level',
    encoding: 'unsupported',
  },
  {
    uid: '1.2.840.10008.1.2.4.102',
    name: 'MPEG-4 AVC/H.264 High Profile',
    encoding: 'unsupported',
  },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encoding: 'rle' },
]);

/** The transfer syntax of a UID; an unknown UID is treated as compressed and unsupported. */
export function transferSyntax(uid: string): TransferSyntax {
  return (
    SYNTAXES.find((s) => s.uid === uid) ?? {
      uid,
      name: 'unknown transfer syntax',
      encoding: 'unsupported',
    }
  );
}
