import type { DataSet, Element } from 'dicom-parser';
import sharp, { type OutputInfo } from 'sharp';
import { ImageError } from '../../core/errors.js';
import { CODEC_NAMES, type CodecEncoding, decodeFrame, isCodecEncoding } from './codecs/index.js';
import {
  FRAME_VOI_LUT,
  frameMacroSources,
  PIXEL_VALUE_TRANSFORMATION,
} from './functional-groups.js';
import { nonImageObject } from './non-image.js';
import { type Palette, paletteColours, readLut, readPalette } from './palette.js';
import { dicomParser, parseDataSet, thrownMessage } from './parse.js';
import {
  IMPLICIT_VR_LITTLE_ENDIAN,
  type PixelEncoding,
  transferSyntax,
} from './transfer-syntax.js';
import {
  lutMapper,
  minMaxWindow,
  type VoiFunction,
  type VoiLut,
  type VoiWindow,
  voiMapper,
} from './window.js';

/** Which frame of a multi-frame image: a 1-based number, or the middle, first or last one. */
export type FrameChoice = number | 'middle' | 'first' | 'last';

export interface DicomRenderOptions {
  /** `--window C,W`: replaces the file's VOI window (LINEAR function). */
  window?: [number, number] | undefined;
  /** `--frame`: the frame rendered (default: the middle one, 0-based ⌊frames/2⌋). */
  frame?: FrameChoice | undefined;
}

/** 8-bit pixels ready to encode: grey (1 channel) or RGB (3 channels), row by row. */
export interface RenderedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
  /** 0-based frame that was rendered (by default the middle one of a multi-frame image). */
  frame: number;
  frames: number;
}

/** What the image attributes of the data set say (PS3.3 C.7.6.3 Image Pixel module). */
interface PixelInfo {
  transferSyntaxUid: string;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometric: string;
  planarConfiguration: number;
  frames: number;
  /** The 0-based frame rendered: by default the middle one, ⌊frames/2⌋ (see chosenFrame). */
  frame: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  /** The rendered frame's rescale (modality LUT), see `frameRescale`. */
  slope: number;
  intercept: number;
  /** The rendered frame's first VOI window, if it has one (see `frameVoi`). */
  window?: VoiWindow;
  /** The rendered frame's first VOI LUT (used when it has no window). */
  voiLut?: VoiLut;
  /** Stored values that mark padding (outside the scanned area), left out of a min/max window. */
  padding?: [low: number, high: number];
  /** The colour tables of a PALETTE COLOR image. */
  palette?: Palette;
}

/**
 * Decodes a DICOM file to 8-bit display pixels: modality LUT (rescale slope/intercept), VOI
 * window (`--window`, else the file's first window, else its VOI LUT, else the frame's
 * min/max without padding), MONOCHROME1 inversion, RGB/YBR/palette colour, middle frame
 * (0-based ⌊frames/2⌋) of a multi-frame image. The rescale and the window are the rendered
 * frame's: from its per-frame functional groups, else the shared ones, else the top level
 * (enhanced multi-frame images keep them only in the groups). Uncompressed transfer
 * syntaxes, JPEG (8- and 12-bit, lossless), JPEG-LS, JPEG 2000, HTJ2K and RLE are decoded;
 * anything else is an ImageError naming the syntax.
 */
export async function renderDicom(
  bytes: Uint8Array,
  path: string,
  options: DicomRenderOptions = {},
): Promise<RenderedImage> {
  const dataSet = parseDataSet(bytes, path);
  const pixel = pixelData(dataSet, path);
  const info = pixelInfo(dataSet, path, options.frame);
  const syntax = transferSyntax(info.transferSyntaxUid);
  const { frame } = info;
  // Some tools decompress a file and keep its compressed transfer syntax UID: pixel data that
  // is not encapsulated is uncompressed, whatever the UID says (compressed syntaxes are all
  // little endian).
  if (!pixel.encapsulatedPixelData && syntax.encoding !== 'native-big-endian') {
    const rendered = renderNative(dataSet, pixel, info, frame, 'native', path, options);
    return { ...rendered, frame, frames: info.frames };
  }
  if (syntax.encoding === 'unsupported') {
    throw new ImageError(
      `${path}: transfer syntax ${syntax.uid} (${syntax.name}) is not supported; medcap decodes ` +
        'uncompressed, JPEG (8-bit, 12-bit and lossless), JPEG-LS, JPEG 2000 and RLE pixel data ' +
        '(convert the file first, e.g. with gdcmconv --raw)',
      { code: 'DICOM_UNSUPPORTED' },
    );
  }
  const encoding = pixelEncoding(syntax.encoding, info);
  let rendered: Rendered;
  if (encoding === 'jpeg') rendered = await renderJpeg(dataSet, pixel, info, frame, path, options);
  else if (isCodecEncoding(encoding)) {
    const words = await compressedWords(dataSet, pixel, info, frame, encoding, path);
    rendered = renderWords(words, options);
  } else rendered = renderNative(dataSet, pixel, info, frame, syntax.encoding, path, options);
  return { ...rendered, frame, frames: info.frames };
}

/**
 * The stored values of the rendered frame (before the modality LUT), sample by sample,
 * pixel-interleaved, for compressed transfer syntaxes: what a lossless codec must give back.
 */
export async function storedValues(bytes: Uint8Array, path: string): Promise<Int32Array> {
  const dataSet = parseDataSet(bytes, path);
  const info = pixelInfo(dataSet, path);
  const syntax = transferSyntax(info.transferSyntaxUid);
  const encoding = pixelEncoding(syntax.encoding, info);
  const pixel = dataSet.elements.x7fe00010;
  if (!pixel || !isCodecEncoding(encoding))
    throw new ImageError(`${path}: not compressed pixel data this decoder reads`);
  const { words, storedOf } = await compressedWords(
    dataSet,
    pixel,
    info,
    info.frame,
    encoding,
    path,
  );
  return Int32Array.from(words, storedOf);
}

/** The Pixel Data element; its absence is an error that says what the file holds instead. */
function pixelData(dataSet: DataSet, path: string): Element {
  const pixel = dataSet.elements.x7fe00010;
  if (pixel) return pixel;
  if (dataSet.elements.x7fe00008 || dataSet.elements.x7fe00009)
    throw new ImageError(`${path}: float pixel data is not supported`, {
      code: 'DICOM_UNSUPPORTED',
    });
  const sopClass = dataSet.string('x00080016') ?? dataSet.string('x00020002') ?? '';
  const modality = dataSet.string('x00080060');
  const known = nonImageObject(sopClass);
  const what = [modality && `Modality ${modality}`, sopClass && `SOP Class ${sopClass}`]
    .filter(Boolean)
    .join(', ');
  throw new ImageError(
    `${path}: no Pixel Data (7FE0,0010) element, so no image to caption` +
      (known ? `; the file is ${known}` : '') +
      (what ? ` (${what})` : ''),
    { code: 'DICOM_NO_PIXELS' },
  );
}

/** JPEG of more than 8 bits goes to medcap's 12-bit decoder; sharp reads 8-bit JPEG. */
function pixelEncoding(encoding: PixelEncoding, info: PixelInfo): PixelEncoding | CodecEncoding {
  return encoding === 'jpeg' && info.bitsAllocated > 8 ? 'jpeg12' : encoding;
}

/** The 0-based frame `choice` names in an image of `frames`; past the last, an ImageError. */
function chosenFrame(frames: number, choice: FrameChoice, path: string): number {
  if (choice === 'middle') return Math.floor(frames / 2);
  if (choice === 'first') return 0;
  if (choice === 'last') return frames - 1;
  if (choice > frames) {
    throw new ImageError(
      `${path}: --frame ${choice}, but the image has ${frames} frame${frames === 1 ? '' : 's'}`,
      { code: 'DICOM_FRAME' },
    );
  }
  return choice - 1;
}

/** The DICOM file rendered as a PNG, for the rest of the pipeline to read like any image. */
export async function dicomToPng(
  bytes: Uint8Array,
  path: string,
  options: DicomRenderOptions = {},
): Promise<Uint8Array> {
  const image = await renderDicom(bytes, path, options);
  const raw = sharp(image.pixels, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
  // A grey image stays a one-channel PNG (sharp would write sRGB otherwise).
  const png = await (image.channels === 1 ? raw.toColourspace('b-w') : raw)
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

function pixelInfo(dataSet: DataSet, path: string, choice: FrameChoice = 'middle'): PixelInfo {
  const rows = dataSet.uint16('x00280010');
  const columns = dataSet.uint16('x00280011');
  const bitsAllocated = dataSet.uint16('x00280100');
  if (!rows || !columns)
    throw new ImageError(`${path}: no image size (Rows/Columns missing or 0)`, {
      code: 'DICOM_INVALID',
    });
  if (bitsAllocated === undefined)
    throw new ImageError(`${path}: Bits Allocated (0028,0100) missing`, { code: 'DICOM_INVALID' });
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const frames = Math.max(1, dataSet.intString('x00280008') || 1);
  const frame = chosenFrame(frames, choice, path);
  const info: PixelInfo = {
    transferSyntaxUid: (dataSet.string('x00020010') ?? IMPLICIT_VR_LITTLE_ENDIAN).replace(
      /\0+$/,
      '',
    ),
    rows,
    columns,
    samplesPerPixel: dataSet.uint16('x00280002') ?? 1,
    photometric: (dataSet.string('x00280004') ?? 'MONOCHROME2').trim().toUpperCase(),
    planarConfiguration: dataSet.uint16('x00280006') ?? 0,
    frames,
    frame,
    bitsAllocated,
    bitsStored,
    highBit: dataSet.uint16('x00280102') ?? bitsStored - 1,
    signed: dataSet.uint16('x00280103') === 1,
    ...frameRescale(dataSet, frame),
    ...frameVoi(dataSet, frame),
  };
  if (info.photometric === 'PALETTE COLOR') info.palette = readPalette(dataSet, info.signed, path);
  const readSigned = (tag: string) => (info.signed ? dataSet.int16(tag) : dataSet.uint16(tag));
  const padding = readSigned('x00280120');
  if (padding !== undefined) {
    const limit = readSigned('x00280121') ?? padding;
    info.padding = [Math.min(padding, limit), Math.max(padding, limit)];
  }
  return info;
}

/**
 * Rescale slope and intercept (0028,1053/1052) of `frame`: from the first place that has them
 * readable (per-frame Pixel Value Transformation, shared one, top level; a place where one is
 * not a number is passed over); slope 1 and intercept 0 where none does. The Rescale Type
 * beside them (HU, US…) changes nothing here.
 */
function frameRescale(dataSet: DataSet, frame: number): { slope: number; intercept: number } {
  const readable = (source: DataSet) => {
    const values = [source.floatString('x00281052'), source.floatString('x00281053')];
    const present = values.filter((value) => value !== undefined);
    return present.length > 0 && present.every(Number.isFinite);
  };
  const source =
    frameMacroSources(dataSet, frame, PIXEL_VALUE_TRANSFORMATION).find(readable) ?? dataSet;
  return {
    slope: finiteOr(source.floatString('x00281053'), 1) || 1,
    intercept: finiteOr(source.floatString('x00281052'), 0),
  };
}

/**
 * The VOI of `frame`: from the first place with a usable window or VOI LUT (per-frame Frame
 * VOI LUT, shared one, top level), its first window (centre, width > 0, function), and its
 * first VOI LUT.
 */
function frameVoi(dataSet: DataSet, frame: number): { window?: VoiWindow; voiLut?: VoiLut } {
  for (const source of frameMacroSources(dataSet, frame, FRAME_VOI_LUT)) {
    const window = firstWindow(source);
    const voiLut = firstVoiLut(source);
    if (window || voiLut) return { ...(window && { window }), ...(voiLut && { voiLut }) };
  }
  return {};
}

/** The first Window Center/Width (0028,1050/1051) pair, if usable, with its VOI LUT Function. */
function firstWindow(dataSet: DataSet): VoiWindow | undefined {
  const center = dataSet.floatString('x00281050', 0);
  const width = dataSet.floatString('x00281051', 0);
  if (center === undefined || width === undefined || !Number.isFinite(center) || !(width > 0))
    return undefined;
  return { center, width, function: voiFunction(dataSet.string('x00281056')) };
}

/** The first item of the VOI LUT Sequence (0028,3010), if it has a usable table. */
function firstVoiLut(dataSet: DataSet): VoiLut | undefined {
  const item = dataSet.elements.x00283010?.items?.[0]?.dataSet;
  if (!item) return undefined;
  // The first mapped value is US or SS; read as SS only where the VR says so.
  const signed = item.elements.x00283002?.vr === 'SS';
  const lut = readLut(item, 'x00283002', 'x00283006', signed);
  if (typeof lut === 'string' || lut.bits < 1 || lut.bits > 16) return undefined;
  return { firstMapped: lut.firstMapped, bits: lut.bits, entries: lut.words };
}

function finiteOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) ? value : fallback;
}

function voiFunction(value: string | undefined): VoiFunction {
  const name = value?.trim().toUpperCase();
  return name === 'LINEAR_EXACT' || name === 'SIGMOID' ? name : 'LINEAR';
}

type Rendered = Pick<RenderedImage, 'width' | 'height' | 'channels' | 'pixels'>;

function renderNative(
  dataSet: DataSet,
  pixel: Element,
  info: PixelInfo,
  frame: number,
  encoding: PixelEncoding,
  path: string,
  options: DicomRenderOptions,
): Rendered {
  if (pixel.encapsulatedPixelData)
    throw new ImageError(
      `${path}: pixel data is encapsulated (compressed) but the transfer syntax ${info.transferSyntaxUid} says uncompressed`,
      { code: 'DICOM_INVALID' },
    );
  const { bitsAllocated, bitsStored, highBit } = info;
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32)
    throw new ImageError(
      `${path}: Bits Allocated ${bitsAllocated} is not supported (8, 16 or 32)`,
      { code: 'DICOM_UNSUPPORTED' },
    );
  if (
    bitsStored < 1 ||
    bitsStored > bitsAllocated ||
    highBit + 1 < bitsStored ||
    highBit >= bitsAllocated
  )
    throw new ImageError(
      `${path}: inconsistent Bits Stored ${bitsStored} / High Bit ${highBit} / Bits Allocated ${bitsAllocated}`,
      { code: 'DICOM_INVALID' },
    );
  checkPhotometric(info, path);
  const count = info.rows * info.columns;
  const bytesPerSample = bitsAllocated / 8;
  // YBR_FULL_422 keeps one Cb and one Cr for each two pixels of a row: two samples a pixel.
  const ybr422 = info.photometric === 'YBR_FULL_422';
  if (ybr422 && (bitsAllocated === 32 || info.columns % 2 === 1))
    throw new ImageError(
      `${path}: YBR_FULL_422 needs an even number of columns and 8 or 16 bits (${info.columns} columns, ${bitsAllocated} bits)`,
      { code: 'DICOM_INVALID' },
    );
  const frameBytes = count * (ybr422 ? 2 : info.samplesPerPixel) * bytesPerSample;
  const byteArray = dataSet.byteArray;
  const available = Math.min(pixel.length, byteArray.length - pixel.dataOffset);
  const needed = (frame + 1) * frameBytes;
  if (available < needed) {
    throw new ImageError(
      `${path}: pixel data has ${Math.max(0, available)} bytes but frame ${frame + 1} of ${info.frames} ` +
        `(${info.columns}x${info.rows}, ${info.samplesPerPixel} x ${bitsAllocated}-bit) needs ${needed}; the file is truncated`,
      { code: 'DICOM_TRUNCATED' },
    );
  }
  const start = byteArray.byteOffset + pixel.dataOffset + frame * frameBytes;
  const little = encoding !== 'native-big-endian';
  const storedOf = storedValue(bitsStored, highBit, info.signed);
  if (bitsAllocated === 32) {
    const view = new DataView(byteArray.buffer, start, frameBytes);
    const sample = (i: number) => storedOf(view.getUint32(4 * i, little));
    if (info.palette) return renderPalette(count, sample, info.palette, info);
    if (info.samplesPerPixel === 1) return renderGrey(count, sample, info, options);
    return renderColour(count, sample, info);
  }
  // 8-bit samples in big endian OW words are swapped pair by pair (PS3.5 8.1.1).
  const words =
    bitsAllocated === 8 && !little && pixel.vr === 'OW'
      ? Uint8Array.from(
          { length: frameBytes },
          (_, i) => byteArray[pixel.dataOffset + ((frame * frameBytes + i) ^ 1)]!,
        )
      : sampleWords(byteArray.buffer, start, frameBytes, bitsAllocated, little);
  if (ybr422) return renderColour(count, ybr422Samples(words, storedOf), ybrFull(info));
  return renderWords({ words, storedOf, info }, options);
}

/** YBR_FULL with one sample triple a pixel, for pixels decoded from YBR_FULL_422. */
function ybrFull(info: PixelInfo): PixelInfo {
  return { ...info, photometric: 'YBR_FULL', planarConfiguration: 0 };
}

/**
 * The samples of YBR_FULL_422 words (Y1 Y2 Cb Cr for each pair of pixels, PS3.3 C.7.6.3.1.2)
 * as if every pixel had its own Y, Cb and Cr, pixel-interleaved.
 */
function ybr422Samples(
  words: Uint8Array | Uint16Array,
  storedOf: (raw: number) => number,
): (i: number) => number {
  return (i) => {
    const pixel = Math.floor(i / 3);
    const channel = i % 3;
    const pair = 4 * (pixel >> 1);
    return storedOf(words[channel === 0 ? pair + (pixel & 1) : pair + 1 + channel]!);
  };
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The frame's 8- or 16-bit words: a view when the bytes allow it, else a copy. */
function sampleWords(
  buffer: ArrayBufferLike,
  start: number,
  length: number,
  bitsAllocated: 8 | 16,
  little: boolean,
): Uint8Array | Uint16Array {
  if (bitsAllocated === 8) return new Uint8Array(buffer, start, length);
  if (little === HOST_LITTLE_ENDIAN && start % 2 === 0)
    return new Uint16Array(buffer, start, length / 2);
  const view = new DataView(buffer, start, length);
  const words = new Uint16Array(length / 2);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint16(2 * i, little);
  return words;
}

/** Turns a raw word into the stored value: Bits Stored bits ending at High Bit, signed or not. */
function storedValue(
  bitsStored: number,
  highBit: number,
  signed: boolean,
): (raw: number) => number {
  const shift = highBit + 1 - bitsStored;
  if (bitsStored === 32) return signed ? (raw) => raw | 0 : (raw) => raw >>> 0;
  const size = 2 ** bitsStored;
  const sign = 2 ** (bitsStored - 1);
  return (raw) => {
    const value = Math.floor(raw / 2 ** shift) % size;
    return signed && value >= sign ? value - size : value;
  };
}

function checkPhotometric(info: PixelInfo, path: string): void {
  const single = ['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR'];
  const colour = ['RGB', 'YBR_FULL', 'YBR_FULL_422'];
  if (info.samplesPerPixel === 1 && single.includes(info.photometric)) return;
  if (info.samplesPerPixel === 3 && colour.includes(info.photometric)) return;
  throw new ImageError(
    `${path}: photometric interpretation ${info.photometric} with ${info.samplesPerPixel} sample(s) per pixel is not supported ` +
      '(MONOCHROME1, MONOCHROME2, PALETTE COLOR, RGB, YBR_FULL, YBR_FULL_422)',
    { code: 'DICOM_UNSUPPORTED' },
  );
}

/** Samples of one frame with what turns them into stored values, ready to render. */
interface FrameWords {
  words: Uint8Array | Uint16Array;
  storedOf: (raw: number) => number;
  /** The pixel attributes that apply to `words` (colour is pixel-interleaved). */
  info: PixelInfo;
}

function renderWords(frame: FrameWords, options: DicomRenderOptions): Rendered {
  const { words, storedOf, info } = frame;
  const stored = (i: number) => storedOf(words[i]!);
  if (info.palette) return renderPalette(words.length, stored, info.palette, info);
  if (info.samplesPerPixel === 1) return renderGreyWords(words, storedOf, info, options);
  return renderColour(words.length / 3, stored, info);
}

function renderPalette(
  count: number,
  stored: (i: number) => number,
  palette: Palette,
  info: PixelInfo,
): Rendered {
  const pixels = paletteColours(count, stored, palette);
  return { width: info.columns, height: info.rows, channels: 3, pixels };
}

/** Refuse frames above this many pixels before a codec allocates them (the same 16k x 16k as for plain images). */
const MAX_COMPRESSED_FRAME_PIXELS = 16384 * 16384;

/**
 * Decodes one encapsulated frame (lossless JPEG, JPEG-LS, JPEG 2000, RLE) into samples that
 * go through the same modality LUT and VOI window as uncompressed pixels.
 */
async function compressedWords(
  dataSet: DataSet,
  pixel: Element,
  info: PixelInfo,
  frame: number,
  encoding: CodecEncoding,
  path: string,
): Promise<FrameWords> {
  const codec = CODEC_NAMES[encoding];
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16)
    throw new ImageError(
      `${path}: ${codec} with Bits Allocated ${info.bitsAllocated} is not supported (8 or 16)`,
      { code: 'DICOM_UNSUPPORTED' },
    );
  if (info.bitsStored < 1 || info.bitsStored > info.bitsAllocated)
    throw new ImageError(
      `${path}: inconsistent Bits Stored ${info.bitsStored} / Bits Allocated ${info.bitsAllocated}`,
      { code: 'DICOM_INVALID' },
    );
  // The codec has undone JPEG 2000's colour transform, and gives interleaved samples.
  const decodedInfo: PixelInfo = {
    ...info,
    photometric:
      info.photometric === 'YBR_RCT' || info.photometric === 'YBR_ICT'
        ? 'RGB'
        : info.photometric === 'YBR_FULL_422'
          ? 'YBR_FULL'
          : info.photometric,
    planarConfiguration: 0,
  };
  checkPhotometric(decodedInfo, path);
  if (info.rows * info.columns > MAX_COMPRESSED_FRAME_PIXELS)
    throw new ImageError(
      `${path}: a ${info.columns}x${info.rows} frame is larger than the pixel limit of ${MAX_COMPRESSED_FRAME_PIXELS} pixels; refused`,
      { code: 'IMAGE_TOO_LARGE' },
    );
  let bytes: Uint8Array;
  try {
    bytes = encapsulatedFrame(dataSet, pixel, frame, info.frames);
  } catch (error) {
    throw new ImageError(
      `${path}: cannot find ${codec} frame ${frame + 1} of ${info.frames} in the pixel data (${thrownMessage(error)})`,
      { code: 'DICOM_INVALID', cause: error },
    );
  }
  let decoded: Awaited<ReturnType<typeof decodeFrame>>;
  try {
    decoded = await decodeFrame(encoding, bytes, info);
  } catch (error) {
    throw new ImageError(
      `${path}: cannot decode the ${codec} frame ${frame + 1} of ${info.frames} (${thrownMessage(error)})`,
      { code: 'DICOM_INVALID', cause: error },
    );
  }
  // RLE keeps the words as stored; the JPEG family gives the value in the low bits.
  const highBit = encoding === 'rle' ? info.highBit : info.bitsStored - 1;
  if (highBit + 1 < info.bitsStored || highBit >= info.bitsAllocated)
    throw new ImageError(
      `${path}: inconsistent Bits Stored ${info.bitsStored} / High Bit ${info.highBit} / Bits Allocated ${info.bitsAllocated}`,
      { code: 'DICOM_INVALID' },
    );
  return {
    words: decoded.samples,
    storedOf: storedValue(info.bitsStored, highBit, info.signed),
    info: decodedInfo,
  };
}

/**
 * From modality values to 0..255: `--window`, else the file's first window, else its VOI
 * LUT, else the range of the frame's values (`range`, padding left out).
 */
function displayMapper(
  info: PixelInfo,
  options: DicomRenderOptions,
  range: () => [min: number, max: number],
): (value: number) => number {
  if (options.window)
    return voiMapper({ center: options.window[0], width: options.window[1], function: 'LINEAR' });
  if (info.window) return voiMapper(info.window);
  if (info.voiLut) return lutMapper(info.voiLut);
  const [min, max] = range();
  // A frame of padding only has no range: black, as a flat frame is.
  return min <= max ? voiMapper(minMaxWindow(min, max)) : () => 0;
}

/** Whether a stored value is Pixel Padding (never, where the file names none). */
function isPadding(info: PixelInfo): (stored: number) => boolean {
  if (!info.padding) return () => false;
  const [low, high] = info.padding;
  return (stored) => stored >= low && stored <= high;
}

/**
 * Grey pixels from 8- or 16-bit words: modality LUT, VOI window, MONOCHROME1 inversion,
 * computed once per possible word (a 256- or 65,536-entry table), then looked up per pixel.
 */
function renderGreyWords(
  words: Uint8Array | Uint16Array,
  storedOf: (raw: number) => number,
  info: PixelInfo,
  options: DicomRenderOptions,
): Rendered {
  const size = words instanceof Uint16Array ? 65536 : 256;
  const modality = new Float64Array(size);
  for (let raw = 0; raw < size; raw++) modality[raw] = storedOf(raw) * info.slope + info.intercept;
  const map = displayMapper(info, options, () => {
    const seen = new Uint8Array(size);
    for (let i = 0; i < words.length; i++) seen[words[i]!] = 1;
    const padding = isPadding(info);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let raw = 0; raw < size; raw++) {
      if (!seen[raw] || padding(storedOf(raw))) continue;
      min = Math.min(min, modality[raw]!);
      max = Math.max(max, modality[raw]!);
    }
    return [min, max];
  });
  const invert = info.photometric === 'MONOCHROME1';
  const table = new Uint8Array(size);
  for (let raw = 0; raw < size; raw++) {
    const value = map(modality[raw]!);
    table[raw] = invert ? 255 - value : value;
  }
  const pixels = new Uint8Array(words.length);
  for (let i = 0; i < words.length; i++) pixels[i] = table[words[i]!]!;
  return { width: info.columns, height: info.rows, channels: 1, pixels };
}

/** Grey pixels of any depth (32-bit samples), value by value. */
function renderGrey(
  count: number,
  stored: (i: number) => number,
  info: PixelInfo,
  options: DicomRenderOptions,
): Rendered {
  const { slope, intercept } = info;
  const map = displayMapper(info, options, () => {
    const padding = isPadding(info);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      if (padding(stored(i))) continue;
      const value = stored(i) * slope + intercept;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    return [min, max];
  });
  const invert = info.photometric === 'MONOCHROME1';
  const pixels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const value = map(stored(i) * slope + intercept);
    pixels[i] = invert ? 255 - value : value;
  }
  return { width: info.columns, height: info.rows, channels: 1, pixels };
}

/** RGB or YBR_FULL samples, interleaved (planar configuration 0) or by plane (1), to 8-bit RGB. */
function renderColour(count: number, stored: (i: number) => number, info: PixelInfo): Rendered {
  const down = Math.max(0, info.bitsStored - 8);
  const sample = (i: number, channel: number) => {
    const index = info.planarConfiguration === 1 ? channel * count + i : 3 * i + channel;
    return Math.floor(Math.max(0, stored(index)) / 2 ** down);
  };
  const ybr = info.photometric === 'YBR_FULL';
  const pixels = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const a = sample(i, 0);
    const b = sample(i, 1);
    const c = sample(i, 2);
    if (ybr) {
      pixels[3 * i] = byte(a + 1.402 * (c - 128));
      pixels[3 * i + 1] = byte(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      pixels[3 * i + 2] = byte(a + 1.772 * (b - 128));
    } else {
      pixels[3 * i] = byte(a);
      pixels[3 * i + 1] = byte(b);
      pixels[3 * i + 2] = byte(c);
    }
  }
  return { width: info.columns, height: info.rows, channels: 3, pixels };
}

function byte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

/** JPEG baseline/extended with 8 bits: sharp decodes the frame; grey output goes through the VOI path. */
async function renderJpeg(
  dataSet: DataSet,
  pixel: Element,
  info: PixelInfo,
  frame: number,
  path: string,
  options: DicomRenderOptions,
): Promise<Rendered> {
  let jpeg: Uint8Array;
  try {
    jpeg = encapsulatedFrame(dataSet, pixel, frame, info.frames);
  } catch (error) {
    throw new ImageError(
      `${path}: cannot find JPEG frame ${frame + 1} of ${info.frames} in the pixel data (${thrownMessage(error)})`,
      { code: 'DICOM_INVALID', cause: error },
    );
  }
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const image = sharp(jpeg, { failOn: 'error' });
    // sharp turns grey into sRGB on output unless told to keep one channel.
    const grey = (await image.metadata()).channels === 1;
    decoded = await (grey ? image.extractChannel(0) : image.toColourspace('srgb').removeAlpha())
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new ImageError(`${path}: cannot decode the JPEG frame (${thrownMessage(error)})`, {
      code: 'DICOM_INVALID',
      cause: error,
    });
  }
  const { data, info: out } = decoded;
  if (out.channels === 1) {
    const sized = { ...info, rows: out.height, columns: out.width };
    return renderGreyWords(data, (raw) => raw, sized, options);
  }
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { width: out.width, height: out.height, channels: 3, pixels };
}

/**
 * The bytes of one frame of encapsulated pixel data: from the Basic Offset Table, else the
 * Extended Offset Table (7FE0,0001), else one fragment per frame, else the frames' JPEG
 * end-of-image markers (every JPEG family codec, JPEG 2000 included, ends a frame with FFD9).
 */
function encapsulatedFrame(
  dataSet: DataSet,
  pixel: Element,
  frame: number,
  frames: number,
): Uint8Array {
  const fragments = pixel.fragments ?? [];
  if (!pixel.encapsulatedPixelData || fragments.length === 0)
    throw new Error('pixel data is not encapsulated');
  if (frames === 1)
    return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixel, 0, fragments.length);
  const table = offsetTable(dataSet, pixel);
  if (table) {
    if (frame >= table.length)
      throw new Error(`the offset table lists ${table.length} frame(s), not ${frames}`);
    return dicomParser.readEncapsulatedImageFrame(dataSet, pixel, frame, table);
  }
  if (fragments.length === frames)
    return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixel, frame, 1);
  if (fragments.length < frames)
    throw new Error(
      `${fragments.length} fragment(s) for ${frames} frames and no offset table; Number of Frames says more than the pixel data holds`,
    );
  const found = dicomParser.createJPEGBasicOffsetTable(dataSet, pixel);
  if (frame >= found.length)
    throw new Error(
      `${fragments.length} fragments for ${frames} frames and no offset table; their end-of-image markers end ${found.length} frame(s)`,
    );
  return dicomParser.readEncapsulatedImageFrame(dataSet, pixel, frame, found);
}

/** The Basic Offset Table, else the Extended Offset Table's 64-bit offsets; undefined if neither. */
function offsetTable(dataSet: DataSet, pixel: Element): number[] | undefined {
  if (pixel.basicOffsetTable && pixel.basicOffsetTable.length > 0) return pixel.basicOffsetTable;
  const extended = dataSet.elements.x7fe00001;
  if (!extended || extended.length < 8) return undefined;
  const bytes = dataSet.byteArray;
  const view = new DataView(bytes.buffer, bytes.byteOffset + extended.dataOffset, extended.length);
  return Array.from({ length: Math.floor(extended.length / 8) }, (_, i) =>
    Number(view.getBigUint64(8 * i, true)),
  );
}
