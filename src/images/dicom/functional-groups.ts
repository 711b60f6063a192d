import type { DataSet } from 'dicom-parser';

/** Pixel Value Transformation Sequence (0028,9145): rescale intercept, slope and type. */
export const PIXEL_VALUE_TRANSFORMATION = 'x00289145';

/** Frame VOI LUT Sequence (0028,9132): window centre, width and function, or a VOI LUT. */
export const FRAME_VOI_LUT = 'x00289132';

/** Shared Functional Groups Sequence (5200,9229): one item, for every frame. */
const SHARED_GROUPS = 'x52009229';

/** Per-Frame Functional Groups Sequence (5200,9230): one item a frame, in frame order. */
const PER_FRAME_GROUPS = 'x52009230';

/**
 * The data sets that may hold one functional group macro's attributes for `frame` (0-based),
 * most specific first (PS3.3 C.7.6.16): the macro's item in the frame's item of the Per-Frame
 * Functional Groups Sequence, the macro's item in the Shared Functional Groups Sequence, then
 * the top level of the data set (where a classic image keeps them). Enhanced images (Enhanced
 * CT, MR, XA…) keep them in the groups only. Groups that are missing, too short, or not parsed
 * as sequences are passed over, so a malformed file reads as if it had none.
 */
export function frameMacroSources(dataSet: DataSet, frame: number, macro: string): DataSet[] {
  const groups = [
    dataSet.elements[PER_FRAME_GROUPS]?.items?.[frame]?.dataSet,
    dataSet.elements[SHARED_GROUPS]?.items?.[0]?.dataSet,
  ];
  const items = groups.map((group) => group?.elements[macro]?.items?.[0]?.dataSet);
  return [...items.filter((item): item is DataSet => item !== undefined), dataSet];
}
