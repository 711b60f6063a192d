/** What a codec gives back for one frame: samples pixel-interleaved, one array entry each. */
export interface DecodedFrame {
  width: number;
  height: number;
  components: number;
  /** 8-bit samples, or up to 16 bits per sample (signed values as their two's complement bits). */
  samples: Uint8Array | Uint16Array;
}

/** The frame the DICOM header describes; a codec checks its stream against it. */
export interface FrameShape {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

/** A codec's complaint about a corrupt or unexpected stream (the caller adds the file name). */
export class CodecError extends Error {
  override name = 'CodecError';
}

/** Copies 16-bit samples out of little-endian bytes (a WASM heap view, say) into a new array. */
export function wordsFromBytes(bytes: Uint8Array, count: number): Uint16Array {
  const words = new Uint16Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) words[i] = view.getUint16(2 * i, true);
  return words;
}

/** Turns planar samples (all of component 0, then 1, …) into pixel-interleaved ones. */
export function interleave<T extends Uint8Array | Uint16Array>(planar: T, components: number): T {
  if (components === 1) return planar;
  const count = planar.length / components;
  const out = new (planar.constructor as new (n: number) => T)(planar.length);
  for (let c = 0; c < components; c++)
    for (let i = 0; i < count; i++) out[components * i + c] = planar[c * count + i]!;
  return out;
}

/** Refuses a stream whose declared size differs from the header's, before anything is allocated. */
export function checkShape(
  codec: string,
  declared: { width: number; height: number; components: number },
  shape: FrameShape,
): void {
  if (
    declared.width !== shape.columns ||
    declared.height !== shape.rows ||
    declared.components !== shape.samplesPerPixel
  )
    throw new CodecError(
      `the ${codec} stream is ${declared.width}x${declared.height} with ${declared.components} component(s), ` +
        `but the DICOM header says ${shape.columns}x${shape.rows} with ${shape.samplesPerPixel}`,
    );
}
