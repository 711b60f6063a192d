import { createRequire } from 'node:module';
import { endOfImage, readJpegFrameHeader } from './jpeg-header.js';
import {
  CodecError,
  checkShape,
  type DecodedFrame,
  type FrameShape,
  interleave,
  wordsFromBytes,
} from './types.js';

// The cornerstone codec packages are Emscripten builds of CharLS and OpenJPEG (CommonJS
// factories that load their .wasm from beside the script).
const require = createRequire(import.meta.url);

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
}

/** The embind decoder classes share this shape. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  delete(): void;
}

/** C++ exceptions reach JavaScript as pointers; the codecs export a way to read them. */
interface EmscriptenModule {
  getExceptionMessage?(pointer: number): string | [string, string];
}

function exceptionMessage(module: EmscriptenModule, pointer: number): string {
  const message = module.getExceptionMessage?.(pointer);
  const text = Array.isArray(message) ? message[1] : message;
  return text?.trim() || `the codec failed (C++ exception ${pointer})`;
}

interface CharlsModule extends EmscriptenModule {
  JpegLSDecoder: new () => WasmDecoder & { getInterleaveMode(): number };
}

interface OpenJpegModule extends EmscriptenModule {
  J2KDecoder: new () => WasmDecoder;
}

/**
 * One WASM module per codec, instantiated on first use. A module whose decoder failed is
 * dropped: an Emscripten abort leaves it unusable, and a fresh one costs a few milliseconds.
 */
class LazyModule<T extends EmscriptenModule> {
  private module: Promise<T> | undefined;
  /** What the codec printed during the current call ("[ERROR] …" lines from OpenJPEG). */
  readonly printed: string[] = [];

  constructor(private readonly load: (print: (text: string) => void) => Promise<T>) {}

  async use<R>(work: (module: T) => R): Promise<R> {
    // A module that failed to start is tried again on the next call.
    this.module ??= this.load((text) => this.printed.push(text)).catch((error: unknown) => {
      this.module = undefined;
      throw error;
    });
    const module = await this.module;
    this.printed.length = 0;
    try {
      return work(module);
    } catch (error) {
      this.module = undefined;
      if (typeof error === 'number') throw new CodecError(exceptionMessage(module, error));
      throw error;
    }
  }
}

type Factory<T> = (options: {
  print(text: string): void;
  printErr(text: string): void;
}) => Promise<T>;

// The codecs print to stdout; what they say is kept for error messages instead. A new
// options object for each instance: Emscripten adopts it as the module.
const charls = new LazyModule((print) =>
  (require('@cornerstonejs/codec-charls/decodewasmjs') as Factory<CharlsModule>)({
    print,
    printErr: print,
  }),
);
const openjpeg = new LazyModule((print) =>
  (require('@cornerstonejs/codec-openjpeg/decodewasmjs') as Factory<OpenJpegModule>)({
    print,
    printErr: print,
  }),
);

/** JPEG-LS lossless and near-lossless (CharLS). */
export function decodeJpegLs(frame: Uint8Array, shape: FrameShape): Promise<DecodedFrame> {
  const header = readJpegFrameHeader(frame);
  if (header.marker !== 0xf7) throw new CodecError('not a JPEG-LS stream (no SOF55 marker)');
  checkShape('JPEG-LS', header, shape);
  endOfImage(frame, 'JPEG-LS');
  return charls.use((module) => {
    const decoder = new module.JpegLSDecoder();
    try {
      decoder.getEncodedBuffer(frame.length).set(frame);
      decoder.decode();
      const info = decoder.getFrameInfo();
      const decoded = copyOut(decoder.getDecodedBuffer(), info);
      // Uninterleaved (mode 0) colour comes out plane by plane.
      return decoder.getInterleaveMode() === 0
        ? { ...decoded, samples: interleave(decoded.samples, decoded.components) }
        : decoded;
    } finally {
      decoder.delete();
    }
  });
}

/** JPEG 2000, lossless and lossy (OpenJPEG); colour transforms (RCT/ICT) are undone by the codec. */
export function decodeJpeg2000(frame: Uint8Array, shape: FrameShape): Promise<DecodedFrame> {
  checkShape('JPEG 2000', readJ2kSize(frame), shape);
  return openjpeg.use((module) => {
    const decoder = new module.J2KDecoder();
    try {
      decoder.getEncodedBuffer(frame.length).set(frame);
      decoder.decode();
      const info = decoder.getFrameInfo();
      // OpenJPEG reports a truncated or broken codestream by printing, not by throwing.
      const errors = openjpeg.printed.filter((line) => line.includes('[ERROR]'));
      if (errors.length > 0 || info.width !== shape.columns || info.height !== shape.rows)
        throw new CodecError(
          errors.map((line) => line.replace('[ERROR]', '').trim()).join('; ') ||
            `the decoded image is ${info.width}x${info.height}`,
        );
      return copyOut(decoder.getDecodedBuffer(), info);
    } finally {
      decoder.delete();
    }
  });
}

/**
 * Image size and component count from a JPEG 2000 codestream's SIZ segment, which follows
 * the start-of-codestream marker (ISO/IEC 15444-1 A.5.1).
 */
function readJ2kSize(frame: Uint8Array): { width: number; height: number; components: number } {
  if (
    frame.length < 42 ||
    frame[0] !== 0xff ||
    frame[1] !== 0x4f ||
    frame[2] !== 0xff ||
    frame[3] !== 0x51
  )
    throw new CodecError('not a JPEG 2000 codestream (no SOC and SIZ markers at its start)');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return {
    width: view.getUint32(8) - view.getUint32(16),
    height: view.getUint32(12) - view.getUint32(20),
    components: view.getUint16(40),
  };
}

/** Copies the samples out of the WASM heap (the view dies with the decoder). */
function copyOut(bytes: Uint8Array, info: FrameInfo): DecodedFrame {
  const count = info.width * info.height * info.componentCount;
  const wide = info.bitsPerSample > 8;
  if (bytes.length < count * (wide ? 2 : 1))
    throw new CodecError(`the codec returned ${bytes.length} bytes for ${count} samples`);
  return {
    width: info.width,
    height: info.height,
    components: info.componentCount,
    samples: wide ? wordsFromBytes(bytes, count) : bytes.slice(0, count),
  };
}
