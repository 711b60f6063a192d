import { describe, expect, it } from 'vitest';
import { STUDY_KINDS, STUDY_SIZE, syntheticStudy, TRAINING_SEED_START } from './cases.js';
import { chestFilm, type Grey, sheppLogan } from './phantoms.js';
import { DEMO_SEEDS, demoStudies } from './sample-data.js';

const GRAMMAR = {
  'head-ct':
    /^Axial CT of the head with (no focal lesion|(a|two|three) (small|large) (hyperdense|hypodense) lesions? in the (right|left) (frontal|occipital) lobe)\.$/,
  'chest-xray':
    /^Chest radiograph with (clear lungs|cardiomegaly|(cardiomegaly and )?(a|two|three) (small|large) (dense|faint) nodules? in the (right|left) (upper|lower) zone)\.$/,
  ultrasound:
    /^Ultrasound with (no focal lesion|(a|two) (small|large) (anechoic cysts?|echogenic mass(es)?) in the (right|left) (near|far) field)\.$/,
} as const;

/** Centre of mass of |a - b| in normalised coordinates (x right, y up) and the signed sum. */
function difference(a: Grey, b: Grey): { x: number; y: number; sum: number } {
  let weight = 0;
  let sx = 0;
  let sy = 0;
  let sum = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const d = a.data[y * a.width + x]! - b.data[y * a.width + x]!;
      weight += Math.abs(d);
      sum += d;
      sx += Math.abs(d) * ((2 * (x + 0.5)) / a.width - 1);
      sy += Math.abs(d) * (1 - (2 * (y + 0.5)) / a.height);
    }
  }
  return { x: sx / weight, y: sy / weight, sum };
}

describe('synthetic studies', () => {
  it('are the same for the same kind and seed, and differ between seeds', () => {
    for (const kind of STUDY_KINDS) {
      const a = syntheticStudy(kind, 42);
      const b = syntheticStudy(kind, 42);
      expect(b.caption).toBe(a.caption);
      expect(b.render().data).toEqual(a.render().data);
      expect(syntheticStudy(kind, 43).render().data).not.toEqual(a.render().data);
    }
  });

  it('captions follow the grammar and cover every count, side and region', () => {
    for (const kind of STUDY_KINDS) {
      const captions = Array.from({ length: 300 }, (_, i) => syntheticStudy(kind, i + 1).caption);
      for (const caption of captions) expect(caption).toMatch(GRAMMAR[kind]);
      const words = new Set(captions.flatMap((c) => c.replace('.', '').split(' ')));
      const none = kind === 'chest-xray' ? 'clear' : 'no';
      for (const w of [none, 'a', 'two', 'small', 'large', 'right', 'left']) {
        expect(words, `${kind}: ${w}`).toContain(w);
      }
      if (kind !== 'ultrasound') expect(words, kind).toContain('three');
    }
  });

  it('draws what the caption says: side, region and brightness of the lesions', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const head = syntheticStudy('head-ct', seed);
      const m = head.caption.match(
        /(hyperdense|hypodense) lesions? in the (right|left) (frontal|occipital)/,
      );
      const { width, height } = STUDY_SIZE['head-ct'];
      const plain = sheppLogan({ width, height, seed });
      if (!m) {
        expect(head.render().data, head.caption).toEqual(plain.data);
        continue;
      }
      const d = difference(head.render(), plain);
      expect(Math.sign(d.sum), head.caption).toBe(m[1] === 'hyperdense' ? 1 : -1);
      // The patient's right is on the image's left; frontal is at the top.
      expect(Math.sign(d.x), head.caption).toBe(m[2] === 'right' ? -1 : 1);
      expect(Math.sign(d.y), head.caption).toBe(m[3] === 'frontal' ? 1 : -1);
    }
    for (let seed = 1; seed <= 40; seed++) {
      const chest = syntheticStudy('chest-xray', seed);
      const m = chest.caption.match(/nodules? in the (right|left) (upper|lower) zone/);
      if (!m) continue;
      const { width, height } = STUDY_SIZE['chest-xray'];
      const cardiomegaly = chest.caption.includes('cardiomegaly');
      const d = difference(chest.render(), chestFilm({ width, height, seed, cardiomegaly }));
      expect(d.sum, chest.caption).toBeGreaterThan(0);
      expect(Math.sign(d.x), chest.caption).toBe(m[1] === 'right' ? -1 : 1);
      expect(d.y > 0.12, chest.caption).toBe(m[2] === 'upper');
    }
  });

  it('the demo takes eight held-out studies of each kind', () => {
    const studies = demoStudies();
    expect(studies).toHaveLength(24);
    for (const kind of STUDY_KINDS) expect(studies.filter((s) => s.kind === kind)).toHaveLength(8);
    expect(Math.max(...DEMO_SEEDS)).toBeLessThan(TRAINING_SEED_START);
    expect(() => syntheticStudy('head-ct', -1)).toThrow(/seed must be a non-negative integer/);
  });
});
