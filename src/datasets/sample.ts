import { isFile, missingFileReason, readImageFile } from './files.js';
import type { Sample } from './types.js';

export interface SampleDraft {
  index: number;
  id: string;
  imagePath: string;
  references: string[];
  concepts?: string[];
  /** Where the item came from, for messages: `train_captions.csv:12`. */
  place: string;
  /** Problems found while reading the index; `fatal` ones make the item an error row. */
  problems: { message: string; fatal: boolean }[];
}

/**
 * The longest reference caption taken (characters). Real captions and reports are a few
 * thousand; one far longer is a broken row, and would slow every metric that reads it.
 */
export const MAX_REFERENCE_CHARS = 100_000;

/**
 * Finishes a sample read from an index file: checks that the image exists (a missing file
 * is a fatal problem of this item, not of the run) and that it has a reference.
 */
export async function finishSample(
  draft: SampleDraft,
  expectReferences: boolean,
  exists: (path: string) => Promise<boolean> = isFile,
): Promise<Sample> {
  const problems = [...draft.problems];
  const longest = Math.max(0, ...draft.references.map((r) => r.length));
  if (longest > MAX_REFERENCE_CHARS) {
    problems.push({
      message: `${draft.place}: reference caption of ${longest.toLocaleString('en-US')} characters (the limit is ${MAX_REFERENCE_CHARS.toLocaleString('en-US')}): a broken row?`,
      fatal: true,
    });
  }
  // An empty path: the row names no image, a problem it already carries.
  if (draft.imagePath !== '' && !(await exists(draft.imagePath))) {
    problems.push({
      message: `${draft.place}: image file ${await missingFileReason(draft.imagePath)}: ${draft.imagePath}`,
      fatal: true,
    });
  }
  // A row that is not captioned needs no reference: its error says only why it is not.
  const fatal = problems.some((p) => p.fatal);
  if (!fatal && expectReferences && draft.references.every((r) => r.trim() === '')) {
    problems.push({
      message: `${draft.place}: no reference caption for '${draft.id}'`,
      fatal: false,
    });
  }
  const sample: Sample = {
    id: draft.id,
    index: draft.index,
    imagePath: draft.imagePath,
    // An over-long reference is left out of the error row too (the message says why).
    references: draft.references.filter((r) => r.trim() !== '' && r.length <= MAX_REFERENCE_CHARS),
    readImage: () => readImageFile(draft.imagePath),
  };
  if (draft.concepts !== undefined) sample.concepts = draft.concepts;
  if (problems.length > 0) {
    sample.problem = {
      message: problems.map((p) => p.message).join('; '),
      fatal,
    };
  }
  return sample;
}
