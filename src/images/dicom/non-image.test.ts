import { describe, expect, it } from 'vitest';
import { dicomFile } from '../../../test/fixtures/dicom/write.js';
import { mediaStorageClass, nonImageObject } from './non-image.js';

describe('mediaStorageClass', () => {
  it("reads (0002,0002) from a Part 10 file's first bytes", () => {
    const file = dicomFile({
      rows: 1,
      columns: 1,
      values: [1],
      sopClass: '1.2.840.10008.5.1.4.1.1.88.11',
    });
    expect(mediaStorageClass(file)).toBe('1.2.840.10008.5.1.4.1.1.88.11');
    expect(mediaStorageClass(file.subarray(0, 400))).toBe('1.2.840.10008.5.1.4.1.1.88.11');
  });

  it('says nothing without the preamble and DICM, or when cut before the value', () => {
    const file = dicomFile({ rows: 1, columns: 1, values: [1] });
    expect(mediaStorageClass(file.subarray(0, 131))).toBeUndefined();
    expect(mediaStorageClass(file.subarray(0, 160))).toBeUndefined();
    expect(
      mediaStorageClass(dicomFile({ rows: 1, columns: 1, values: [1], layout: 'no-preamble' })),
    ).toBeUndefined();
  });
});

describe('nonImageObject', () => {
  it('names report, presentation and document classes, and nothing for images', () => {
    expect(nonImageObject('1.2.840.10008.5.1.4.1.1.88.59')).toMatch(/Key Object Selection/);
    expect(nonImageObject('1.2.840.10008.5.1.4.1.1.11.1')).toBe('a Presentation State');
    expect(nonImageObject('1.2.840.10008.5.1.4.1.1.2')).toBeUndefined(); // CT Image Storage
    expect(nonImageObject('1.2.840.10008.5.1.4.1.1.1.2')).toBeUndefined(); // digital mammography
  });
});
