/** VOI LUT Function (0028,1056); LINEAR when the file does not say. */
export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface VoiWindow {
  center: number;
  width: number;
  function: VoiFunction;
}

/**
 * Maps a modality value (stored value × slope + intercept) to an 8-bit display value with
 * the VOI window functions of DICOM PS3.3 C.11.2.1.2 (output range 0..255).
 */
export function voiMapper(window: VoiWindow): (value: number) => number {
  const { center, width } = window;
  if (window.function === 'SIGMOID') {
    return (x) => clampByte(255 / (1 + Math.exp((-4 * (x - center)) / width)));
  }
  if (window.function === 'LINEAR_EXACT') {
    if (width <= 0) return (x) => (x <= center ? 0 : 255);
    const low = center - width / 2;
    const high = center + width / 2;
    return (x) => (x <= low ? 0 : x > high ? 255 : clampByte(((x - center) / width + 0.5) * 255));
  }
  // LINEAR: width >= 1; a width of 1 is a threshold at center - 0.5.
  if (width <= 1) return (x) => (x <= center - 0.5 ? 0 : 255);
  const low = center - 0.5 - (width - 1) / 2;
  const high = center - 0.5 + (width - 1) / 2;
  return (x) =>
    x <= low ? 0 : x > high ? 255 : clampByte(((x - (center - 0.5)) / (width - 1) + 0.5) * 255);
}

/** A VOI LUT (0028,3010): entries from the first mapped value on, each of `bits` bits. */
export interface VoiLut {
  firstMapped: number;
  bits: number;
  entries: Uint16Array;
}

/**
 * Maps a modality value through a VOI LUT to 0..255 (PS3.3 C.11.2.1.1): values below the
 * first mapped one take the first entry, values past the end the last.
 */
export function lutMapper(lut: VoiLut): (value: number) => number {
  const { entries, firstMapped } = lut;
  const scale = 255 / (2 ** lut.bits - 1);
  const last = entries.length - 1;
  return (x) =>
    clampByte(entries[Math.min(last, Math.max(0, Math.floor(x) - firstMapped))]! * scale);
}

/** The window that maps the smallest value to 0 and the largest to 255. */
export function minMaxWindow(min: number, max: number): VoiWindow {
  return { center: (min + max) / 2, width: max - min, function: 'LINEAR_EXACT' };
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}
