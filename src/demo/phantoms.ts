import { seededRandom } from '../metrics/statistics.js';

/**
 * Synthetic, medical-looking grey-scale images for the bundled sample data: Shepp–Logan
 * head phantoms (CT-like), chest films and ultrasound fans. Everything is deterministic:
 * the same seed gives the same pixels on every machine.
 */

export interface Grey {
  width: number;
  height: number;
  /** Row-major intensities in [0, 1]. */
  data: Float32Array;
}

function canvas(width: number, height: number, value = 0): Grey {
  return { width, height, data: new Float32Array(width * height).fill(value) };
}

/** Adds `value` inside an ellipse given in normalised coordinates ([-1, 1] on both axes). */
function ellipse(
  img: Grey,
  cx: number,
  cy: number,
  a: number,
  b: number,
  angleDeg: number,
  value: number,
  set = false,
): void {
  const theta = (angleDeg * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  for (let y = 0; y < img.height; y++) {
    const ny = 1 - (2 * (y + 0.5)) / img.height;
    for (let x = 0; x < img.width; x++) {
      const nx = (2 * (x + 0.5)) / img.width - 1;
      const dx = nx - cx;
      const dy = ny - cy;
      const u = dx * cos + dy * sin;
      const v = -dx * sin + dy * cos;
      if ((u * u) / (a * a) + (v * v) / (b * b) <= 1) {
        const i = y * img.width + x;
        img.data[i] = set ? value : img.data[i]! + value;
      }
    }
  }
}

function addNoise(img: Grey, rng: () => number, amount: number): void {
  for (let i = 0; i < img.data.length; i++) img.data[i] = img.data[i]! + (rng() - 0.5) * amount;
}

/** Box blur with radius r, a cheap stand-in for the point-spread of a real scanner. */
function blur(img: Grey, r: number): Grey {
  const out = canvas(img.width, img.height);
  const tmp = new Float32Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      let sum = 0;
      let n = 0;
      for (let k = -r; k <= r; k++) {
        const xx = x + k;
        if (xx >= 0 && xx < img.width) {
          sum += img.data[y * img.width + xx]!;
          n += 1;
        }
      }
      tmp[y * img.width + x] = sum / n;
    }
  }
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      let sum = 0;
      let n = 0;
      for (let k = -r; k <= r; k++) {
        const yy = y + k;
        if (yy >= 0 && yy < img.height) {
          sum += tmp[yy * img.width + x]!;
          n += 1;
        }
      }
      out.data[y * img.width + x] = sum / n;
    }
  }
  return out;
}

export interface PhantomOptions {
  width: number;
  height: number;
  seed: number;
}

/** A round finding in normalised coordinates ([-1, 1], y up) that adds `contrast` to the image. */
export interface Spot {
  x: number;
  y: number;
  r: number;
  contrast: number;
}

/** Modified Shepp–Logan head phantom (Toft's contrast), with any number of lesions. */
export function sheppLogan(options: PhantomOptions & { lesions?: readonly Spot[] }): Grey {
  const img = canvas(options.width, options.height);
  const rows: [number, number, number, number, number, number][] = [
    [1, 0.69, 0.92, 0, 0, 0],
    [-0.8, 0.6624, 0.874, 0, -0.0184, 0],
    [-0.2, 0.11, 0.31, 0.22, 0, -18],
    [-0.2, 0.16, 0.41, -0.22, 0, 18],
    [0.1, 0.21, 0.25, 0, 0.35, 0],
    [0.1, 0.046, 0.046, 0, 0.1, 0],
    [0.1, 0.046, 0.046, 0, -0.1, 0],
    [0.1, 0.046, 0.023, -0.08, -0.605, 0],
    [0.1, 0.023, 0.023, 0, -0.606, 0],
    [0.1, 0.023, 0.046, 0.06, -0.605, 0],
  ];
  for (const [value, a, b, x, y, angle] of rows) ellipse(img, x, y, a, b, angle, value);
  for (const { x, y, r, contrast } of options.lesions ?? []) {
    ellipse(img, x, y, r, r * 0.8, 20, contrast);
  }
  addNoise(img, seededRandom(options.seed), 0.06);
  return blur(img, 1);
}

/** A frontal chest film: dark lungs in a bright body, spine, ribs, heart; optional findings. */
export function chestFilm(
  options: PhantomOptions & {
    nodules?: readonly Spot[];
    effusion?: 'left' | 'right';
    cardiomegaly?: boolean;
  },
): Grey {
  const img = canvas(options.width, options.height, 0.08);
  ellipse(img, 0, -0.05, 0.92, 1.05, 0, 0.62, true); // body
  ellipse(img, -0.42, 0.12, 0.3, 0.62, 4, 0.14, true); // right lung (patient's right on the left)
  ellipse(img, 0.42, 0.12, 0.3, 0.62, -4, 0.14, true); // left lung
  for (let i = 0; i < 9; i++) {
    const y = 0.62 - i * 0.14;
    ellipse(img, -0.42, y, 0.34, 0.035, -12, 0.12); // ribs
    ellipse(img, 0.42, y, 0.34, 0.035, 12, 0.12);
  }
  ellipse(img, 0, 0, 0.07, 1.0, 0, 0.3); // spine
  const heart = options.cardiomegaly ? 0.4 : 0.26;
  ellipse(img, 0.1, -0.28, heart, heart * 0.85, -15, 0.42, true); // heart shadow
  for (const { x, y, r, contrast } of options.nodules ?? []) {
    ellipse(img, x, y, r, r * (options.width / options.height), 0, contrast);
  }
  if (options.effusion) {
    const side = options.effusion === 'right' ? -0.42 : 0.42;
    ellipse(img, side, -0.42, 0.32, 0.2, 0, 0.55, true);
  }
  addNoise(img, seededRandom(options.seed), 0.05);
  return blur(img, options.width < 240 ? 1 : 2);
}

/** A focal finding in an ultrasound fan: where (fraction of the fan's depth, degrees off the axis), how big. */
export interface FanFinding {
  kind: 'cyst' | 'mass';
  depth: number;
  angle: number;
  /** Radius as a fraction of the image height. */
  size: number;
}

/** A B-mode ultrasound fan with speckle; anechoic cysts and echogenic masses. */
export function ultrasoundFan(
  options: PhantomOptions & { findings?: readonly FanFinding[] },
): Grey {
  const img = canvas(options.width, options.height, 0);
  const rng = seededRandom(options.seed);
  const apexX = options.width / 2;
  const apexY = options.height * 0.04;
  const maxR = options.height * 0.92;
  const halfAngle = (35 * Math.PI) / 180;
  const spots = (options.findings ?? []).map((f) => {
    const theta = (f.angle * Math.PI) / 180;
    return {
      kind: f.kind,
      x: apexX + maxR * f.depth * Math.sin(theta),
      y: apexY + maxR * f.depth * Math.cos(theta),
      size: options.height * f.size,
    };
  });
  const bandScale = 28 / options.height; // speckle bands at the same relative spacing at any size
  for (let y = 0; y < options.height; y++) {
    for (let x = 0; x < options.width; x++) {
      const dx = x - apexX;
      const dy = y - apexY;
      const r = Math.hypot(dx, dy);
      const theta = Math.atan2(dx, dy);
      if (r < maxR * 0.08 || r > maxR || Math.abs(theta) > halfAngle) continue;
      const depthGain = 1 - (r / maxR) * 0.55;
      const layers = 0.35 + 0.15 * Math.sin(r * bandScale) + (r > maxR * 0.6 ? 0.15 : 0);
      let value = layers * depthGain * (0.5 + rng());
      for (const s of spots) {
        const d = Math.hypot(x - s.x, (y - s.y) * 1.2);
        if (s.kind === 'cyst' && d < s.size) value *= 0.08;
        else if (s.kind === 'cyst' && y > s.y && Math.abs(x - s.x) < s.size * 0.8)
          value *= 1.5; // acoustic enhancement
        else if (s.kind === 'mass' && d < s.size) value = 0.55 + 0.35 * rng();
      }
      img.data[y * options.width + x] = value;
    }
  }
  return blur(img, 1);
}

/** 8-bit grey bytes, window [low, high] mapped to [0, 255]. */
export function toBytes(img: Grey, low = 0, high = 1): Uint8Array {
  const out = new Uint8Array(img.data.length);
  const scale = 255 / (high - low);
  for (let i = 0; i < img.data.length; i++) {
    out[i] = Math.max(0, Math.min(255, Math.round((img.data[i]! - low) * scale)));
  }
  return out;
}
