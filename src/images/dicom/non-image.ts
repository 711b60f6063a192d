/**
 * DICOM objects that are not images (reports, presentation states, documents) but turn up
 * among images in a study export: told by their SOP Class UID.
 */

const NON_IMAGE_CLASSES: readonly [prefix: string, name: string][] = [
  ['1.2.840.10008.1.3.10', 'a DICOMDIR (the index of a DICOM medium)'],
  ['1.2.840.10008.5.1.4.1.1.88.', 'a Structured Report or Key Object Selection'],
  ['1.2.840.10008.5.1.4.1.1.11.', 'a Presentation State'],
  ['1.2.840.10008.5.1.4.1.1.104.', 'an encapsulated document (PDF, CDA, …)'],
  ['1.2.840.10008.5.1.4.1.1.481.', 'a radiotherapy object (RT Structure Set, Plan, …)'],
  ['1.2.840.10008.5.1.4.1.1.66', 'a raw data or registration object'],
];

/** What a non-image SOP class is, in words (`a Presentation State`); undefined for the rest. */
export function nonImageObject(sopClass: string): string | undefined {
  return NON_IMAGE_CLASSES.find(([prefix]) => sopClass.startsWith(prefix))?.[1];
}

/**
 * The Media Storage SOP Class UID (0002,0002) of a DICOM Part 10 file, from its first bytes
 * (preamble, `DICM`, the meta group in explicit VR little endian); undefined when `head`
 * does not hold it (no preamble, or cut before it).
 */
export function mediaStorageClass(head: Uint8Array): string | undefined {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const text = (at: number, length: number) =>
    String.fromCharCode(...head.subarray(at, at + length));
  if (head.length < 132 || text(128, 4) !== 'DICM') return undefined;
  for (let at = 132; at + 8 <= head.length; ) {
    const group = view.getUint16(at, true);
    const element = view.getUint16(at + 2, true);
    if (group !== 0x0002) return undefined;
    const vr = text(at + 4, 2);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR'].includes(vr);
    if (long && at + 12 > head.length) return undefined;
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    const value = at + (long ? 12 : 8);
    if (element === 0x0002) {
      if (value + length > head.length) return undefined;
      return text(value, length).replace(/[\0 ]+$/, '');
    }
    at = value + length;
  }
  return undefined;
}
