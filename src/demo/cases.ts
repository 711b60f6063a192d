import { seededRandom } from '../metrics/statistics.js';
import {
  chestFilm,
  type FanFinding,
  type Grey,
  type Spot,
  sheppLogan,
  ultrasoundFan,
} from './phantoms.js';

/**
 * Synthetic studies with varied findings, each with a caption that says exactly what was
 * drawn: how many lesions, where, how big, how bright. One (kind, seed) pair always gives the
 * same pixels and caption. Seeds below TRAINING_SEED_START are held out: the demo and the
 * evaluation of the demo captioner draw from them, its training data never does.
 */

export type StudyKind = 'head-ct' | 'chest-xray' | 'ultrasound';
export const STUDY_KINDS: readonly StudyKind[] = ['head-ct', 'chest-xray', 'ultrasound'];

/** First seed of the training range; seeds below it are held out. */
export const TRAINING_SEED_START = 1_000_000;

/** Image size per kind: multiples of 28 inside Qwen2-VL's pixel range, so nothing is resized. */
export const STUDY_SIZE: Readonly<Record<StudyKind, { width: number; height: number }>> = {
  'head-ct': { width: 168, height: 168 },
  'chest-xray': { width: 168, height: 196 },
  ultrasound: { width: 196, height: 168 },
};

/** UMLS concepts for the modality and the body region of each kind (ROCOv2's CUI column). */
export const STUDY_CUIS: Readonly<Record<StudyKind, readonly string[]>> = {
  'head-ct': ['C0040405', 'C0018670'], // X-ray computed tomography, head
  'chest-xray': ['C1306645', 'C0817096'], // plain radiograph, chest
  ultrasound: ['C0041618', 'C0000726'], // ultrasonography, abdomen
};

export interface SyntheticStudy {
  kind: StudyKind;
  seed: number;
  caption: string;
  cuis: readonly string[];
  width: number;
  height: number;
  render: () => Grey;
}

type Rng = () => number;
type Size = 'small' | 'large';

const COUNT_WORD = ['no', 'a', 'two', 'three'] as const;

function between(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng();
}

function pick<T>(rng: Rng, values: readonly T[]): T {
  return values[Math.floor(rng() * values.length)]!;
}

/** 0 to `max` findings; none a quarter of the time, one the most often. */
function findingCount(rng: Rng, max: number): number {
  const u = rng();
  if (u < 0.25) return 0;
  if (u < 0.6 || max === 1) return 1;
  if (u < 0.85 || max === 2) return 2;
  return 3;
}

/** "a small dense nodule" / "two large dense nodules". */
function findingPhrase(count: number, words: readonly string[], noun: string): string {
  return `${COUNT_WORD[count]} ${words.join(' ')} ${count === 1 ? noun : `${noun}s`}`;
}

/**
 * Places up to `count` circles from `next()` that fit and do not touch each other. Fewer
 * come back when the region is full; the caption counts what was placed.
 */
function place<T extends { r: number }>(
  count: number,
  next: () => T,
  centre: (t: T) => [number, number],
  fits: (t: T) => boolean = () => true,
): T[] {
  const placed: T[] = [];
  for (let tries = 0; placed.length < count && tries < 200; tries++) {
    const candidate = next();
    if (!fits(candidate)) continue;
    const [x, y] = centre(candidate);
    const clear = placed.every((p) => {
      const [px, py] = centre(p);
      return Math.hypot(px - x, py - y) > p.r + candidate.r + 0.03;
    });
    if (clear) placed.push(candidate);
  }
  return placed;
}

function headCt(seed: number, rng: Rng): SyntheticStudy {
  const count = findingCount(rng, 3);
  const side = pick(rng, ['right', 'left'] as const); // patient's right is on the image's left
  const lobe = pick(rng, ['frontal', 'occipital'] as const);
  const size: Size = pick(rng, ['small', 'large']);
  const bright = rng() < 0.5;
  const sx = side === 'right' ? -1 : 1;
  const sy = lobe === 'frontal' ? 1 : -1;
  const lesions = place<Spot>(
    count,
    () => ({
      x: sx * between(rng, 0.08, 0.45),
      y: sy * between(rng, 0.42, 0.7),
      r: size === 'small' ? between(rng, 0.05, 0.07) : between(rng, 0.1, 0.13),
      contrast: bright ? between(rng, 0.35, 0.45) : between(rng, -0.16, -0.12),
    }),
    (s) => [s.x, s.y],
    // Inside the brain (the skull's inner ellipse), clear of it by a margin.
    (s) => Math.hypot(s.x / 0.6624, (s.y + 0.0184) / 0.874) + (s.r + 0.03) / 0.6624 <= 1,
  );
  const caption =
    lesions.length === 0
      ? 'Axial CT of the head with no focal lesion.'
      : `Axial CT of the head with ${findingPhrase(lesions.length, [size, bright ? 'hyperdense' : 'hypodense'], 'lesion')} in the ${side} ${lobe} lobe.`;
  const { width, height } = STUDY_SIZE['head-ct'];
  return {
    kind: 'head-ct',
    seed,
    caption,
    cuis: STUDY_CUIS['head-ct'],
    width,
    height,
    render: () => sheppLogan({ width, height, seed, lesions }),
  };
}

function chestXray(seed: number, rng: Rng): SyntheticStudy {
  const count = findingCount(rng, 3);
  const side = pick(rng, ['right', 'left'] as const);
  const zone = pick(rng, ['upper', 'lower'] as const);
  const size: Size = pick(rng, ['small', 'large']);
  const dense = rng() < 0.5;
  const cardiomegaly = rng() < 0.3;
  const sx = side === 'right' ? -1 : 1;
  const nodules = place<Spot>(
    count,
    () => ({
      x: sx * between(rng, 0.3, 0.56),
      y: zone === 'upper' ? between(rng, 0.3, 0.6) : between(rng, -0.28, 0.02),
      r: size === 'small' ? between(rng, 0.05, 0.065) : between(rng, 0.09, 0.11),
      contrast: dense ? between(rng, 0.34, 0.4) : between(rng, 0.15, 0.19),
    }),
    (s) => [s.x, s.y],
  );
  const findings: string[] = [];
  if (cardiomegaly) findings.push('cardiomegaly');
  if (nodules.length > 0) {
    const what = findingPhrase(nodules.length, [size, dense ? 'dense' : 'faint'], 'nodule');
    findings.push(`${what} in the ${side} ${zone} zone`);
  }
  const caption =
    findings.length === 0
      ? 'Chest radiograph with clear lungs.'
      : `Chest radiograph with ${findings.join(' and ')}.`;
  const { width, height } = STUDY_SIZE['chest-xray'];
  return {
    kind: 'chest-xray',
    seed,
    caption,
    cuis: STUDY_CUIS['chest-xray'],
    width,
    height,
    render: () => chestFilm({ width, height, seed, nodules, cardiomegaly }),
  };
}

function ultrasound(seed: number, rng: Rng): SyntheticStudy {
  const count = findingCount(rng, 2);
  const side = pick(rng, ['right', 'left'] as const);
  const field = pick(rng, ['near', 'far'] as const);
  const size: Size = pick(rng, ['small', 'large']);
  const kind = pick(rng, ['cyst', 'mass'] as const);
  const sign = side === 'right' ? 1 : -1;
  // Degrees and depth fractions are turned into rough image units for the spacing check.
  const findings = place<FanFinding & { r: number }>(
    count,
    () => {
      const radius = size === 'small' ? between(rng, 0.05, 0.065) : between(rng, 0.09, 0.11);
      return {
        kind,
        depth: field === 'near' ? between(rng, 0.3, 0.45) : between(rng, 0.6, 0.78),
        angle: sign * between(rng, 7, 26),
        size: radius,
        r: radius,
      };
    },
    (f) => {
      const theta = (f.angle * Math.PI) / 180;
      return [f.depth * Math.sin(theta), f.depth * Math.cos(theta)];
    },
  );
  const noun = kind === 'cyst' ? 'cyst' : 'mass';
  const words = [size, kind === 'cyst' ? 'anechoic' : 'echogenic'];
  const phrase =
    findings.length === 1
      ? `a ${words.join(' ')} ${noun}`
      : `${COUNT_WORD[findings.length]} ${words.join(' ')} ${kind === 'cyst' ? 'cysts' : 'masses'}`;
  const caption =
    findings.length === 0
      ? 'Ultrasound with no focal lesion.'
      : `Ultrasound with ${phrase} in the ${side} ${field} field.`;
  const { width, height } = STUDY_SIZE.ultrasound;
  return {
    kind: 'ultrasound',
    seed,
    caption,
    cuis: STUDY_CUIS.ultrasound,
    width,
    height,
    render: () => ultrasoundFan({ width, height, seed, findings }),
  };
}

const MAKERS: Readonly<Record<StudyKind, (seed: number, rng: Rng) => SyntheticStudy>> = {
  'head-ct': headCt,
  'chest-xray': chestXray,
  ultrasound,
};

/** The study of `kind` drawn from `seed`; pixels are rendered only when `render()` is called. */
export function syntheticStudy(kind: StudyKind, seed: number): SyntheticStudy {
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  // Mixing the kind into the seed keeps the three kinds' draws independent.
  const rng = seededRandom((seed * 3 + STUDY_KINDS.indexOf(kind)) ^ 0x5bd1e995);
  return MAKERS[kind](seed, rng);
}
