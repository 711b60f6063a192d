import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { chestFilm, type Grey, sheppLogan, toBytes, ultrasoundFan } from './phantoms.js';

interface DemoItem {
  id: string;
  caption: string;
  cuis: string[];
  render: () => Grey;
}

const CT = 'C0040405';
const XRAY = 'C1306645';
const US = 'C0041618';
const HEAD = 'C0018670';
const CHEST = 'C0817096';
const ABDOMEN = 'C0000726';

function items(): DemoItem[] {
  const list: DemoItem[] = [];
  const add = (caption: string, cuis: string[], render: () => Grey) =>
    list.push({ id: `DEMO_${String(list.length + 1).padStart(3, '0')}`, caption, cuis, render });

  const heads: {
    lesion?: { x: number; y: number; r: number; bright: boolean };
    caption: string;
    size: number;
  }[] = [
    { caption: 'Axial CT of the head shows no acute intracranial abnormality.', size: 256 },
    {
      lesion: { x: 0.3, y: 0.25, r: 0.09, bright: true },
      caption:
        'Axial non-contrast CT of the head shows a hyperdense lesion in the left frontal lobe, consistent with acute haemorrhage.',
      size: 256,
    },
    {
      lesion: { x: -0.28, y: -0.2, r: 0.12, bright: false },
      caption:
        'Axial CT of the brain demonstrates a hypodense area in the right temporal lobe, suggestive of infarction.',
      size: 256,
    },
    {
      lesion: { x: 0.05, y: 0.45, r: 0.07, bright: true },
      caption: 'CT head showing a small hyperdense focus near the midline frontal region.',
      size: 288,
    },
    {
      lesion: { x: -0.35, y: 0.3, r: 0.1, bright: true },
      caption:
        'Axial computed tomography of the head with a rounded hyperdense mass in the right frontal lobe.',
      size: 288,
    },
    {
      caption: 'Normal axial CT of the head with symmetric ventricles and no mass effect.',
      size: 288,
    },
    {
      lesion: { x: 0.25, y: -0.35, r: 0.14, bright: false },
      caption: 'Head CT reveals a large hypodense lesion in the left occipital lobe.',
      size: 256,
    },
    {
      lesion: { x: -0.1, y: 0.05, r: 0.05, bright: true },
      caption:
        'Axial CT scan of the brain showing a small calcified focus adjacent to the ventricle.',
      size: 256,
    },
  ];
  for (const [i, head] of heads.entries()) {
    add(head.caption, [CT, HEAD], () =>
      sheppLogan({
        width: head.size,
        height: head.size,
        seed: 100 + i,
        ...(head.lesion ? { lesion: head.lesion } : {}),
      }),
    );
  }

  const chests: { caption: string; options: Parameters<typeof chestFilm>[0] }[] = [
    {
      caption:
        'Posteroanterior chest radiograph shows clear lungs and a normal cardiac silhouette.',
      options: { width: 320, height: 360, seed: 200 },
    },
    {
      caption: 'Chest X-ray showing a solitary pulmonary nodule in the right upper lobe.',
      options: { width: 320, height: 360, seed: 201, nodule: { x: -0.45, y: 0.4 } },
    },
    {
      caption:
        'Frontal chest radiograph demonstrates a left pleural effusion with blunting of the costophrenic angle.',
      options: { width: 320, height: 360, seed: 202, effusion: 'left' },
    },
    {
      caption: 'Chest radiograph shows cardiomegaly with an enlarged cardiac silhouette.',
      options: { width: 320, height: 360, seed: 203, cardiomegaly: true },
    },
    {
      caption: 'PA chest X-ray with a right-sided pleural effusion.',
      options: { width: 300, height: 340, seed: 204, effusion: 'right' },
    },
    {
      caption: 'Chest radiograph showing a nodule in the left lower lung zone.',
      options: { width: 300, height: 340, seed: 205, nodule: { x: 0.4, y: -0.1 } },
    },
    {
      caption: 'Plain chest film with cardiomegaly and a small left pleural effusion.',
      options: { width: 300, height: 340, seed: 206, cardiomegaly: true, effusion: 'left' },
    },
    {
      caption: 'Normal frontal chest X-ray without focal consolidation.',
      options: { width: 320, height: 360, seed: 207 },
    },
  ];
  for (const chest of chests) add(chest.caption, [XRAY, CHEST], () => chestFilm(chest.options));

  const fans: { caption: string; options: Parameters<typeof ultrasoundFan>[0] }[] = [
    {
      caption:
        'Abdominal ultrasound shows a well-defined anechoic cyst with posterior acoustic enhancement.',
      options: {
        width: 320,
        height: 256,
        seed: 300,
        finding: 'cyst',
        at: { depth: 0.5, angle: 10 },
      },
    },
    {
      caption: 'Ultrasound image demonstrating an echogenic solid mass.',
      options: {
        width: 320,
        height: 256,
        seed: 301,
        finding: 'mass',
        at: { depth: 0.55, angle: -12 },
      },
    },
    {
      caption: 'Grey-scale ultrasound of the abdomen with no focal lesion.',
      options: {
        width: 320,
        height: 256,
        seed: 302,
        finding: 'none',
        at: { depth: 0.5, angle: 0 },
      },
    },
    {
      caption: 'Sonography reveals a small simple cyst in the superficial tissue.',
      options: {
        width: 320,
        height: 256,
        seed: 303,
        finding: 'cyst',
        at: { depth: 0.3, angle: -15 },
      },
    },
    {
      caption: 'Ultrasound shows a hyperechoic lesion deep in the field of view.',
      options: {
        width: 352,
        height: 256,
        seed: 304,
        finding: 'mass',
        at: { depth: 0.75, angle: 8 },
      },
    },
    {
      caption: 'Abdominal sonogram with a large anechoic cystic lesion.',
      options: {
        width: 352,
        height: 256,
        seed: 305,
        finding: 'cyst',
        at: { depth: 0.6, angle: 0 },
      },
    },
    {
      caption: 'B-mode ultrasound image showing a heterogeneous echogenic mass.',
      options: {
        width: 352,
        height: 256,
        seed: 306,
        finding: 'mass',
        at: { depth: 0.45, angle: 14 },
      },
    },
    {
      caption: 'Normal abdominal ultrasound without cyst or mass.',
      options: {
        width: 320,
        height: 256,
        seed: 307,
        finding: 'none',
        at: { depth: 0.5, angle: 0 },
      },
    },
  ];
  for (const fan of fans) add(fan.caption, [US, ABDOMEN], () => ultrasoundFan(fan.options));
  return list;
}

/** Number of images in the bundled sample dataset. */
export const DEMO_IMAGE_COUNT = 24;

/**
 * Writes the sample dataset in ROCOv2 layout (`train_captions.csv`, `train_concepts.csv`,
 * `train/*.jpg`) into `dir`. Deterministic: the same bytes every time.
 */
export async function writeDemoDataset(
  dir: string,
  split = 'train',
): Promise<{ dir: string; count: number }> {
  const all = items();
  await mkdir(join(dir, split), { recursive: true });
  for (const item of all) {
    const grey = item.render();
    const jpeg = await sharp(toBytes(grey), {
      raw: { width: grey.width, height: grey.height, channels: 1 },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    await writeFile(join(dir, split, `${item.id}.jpg`), jpeg);
  }
  await writeFile(
    join(dir, `${split}_captions.csv`),
    stringify([['ID', 'Caption'], ...all.map((i) => [i.id, i.caption])]),
  );
  await writeFile(
    join(dir, `${split}_concepts.csv`),
    stringify([['ID', 'CUIs'], ...all.map((i) => [i.id, i.cuis.join(';')])]),
  );
  return { dir, count: all.length };
}
