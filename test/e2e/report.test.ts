/**
 * The report in a real browser: headless Chromium (Debian's /usr/bin/chromium, installed by
 * .ci/run) driven by playwright-core. Writes test-output/report.png for people to look at.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCaptionsCsv, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { renderComparisonPage } from '../../src/reports/html/compare.js';
import { writeReport } from '../../src/reports/html/index.js';
import {
  HOSTILE_CAPTION,
  HOSTILE_ID,
  HOSTILE_REFERENCE,
  writeSyntheticRun,
} from './report-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = resolve('test-output');

let root: string;
let context: BrowserContext;
let reportPath: string;
let bareReportPath: string;
let comparePath: string;
let longReportPath: string;
let longIdReportPath: string;
/** An id as a broken manifest can make one: 3,000 characters without a space. */
const LONG_ID = `ROCO_${'0123456789'.repeat(300)}`;
/** A caption as a model that never stops writes it: 16,000 characters. */
const LONG_CAPTION = 'the lesion is '.repeat(1000) + 'unbroken'.repeat(250);

interface Watched {
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
  requests: string[];
}

async function open(path: string): Promise<Watched> {
  const page = await context.newPage();
  const watched: Watched = { page, consoleErrors: [], pageErrors: [], dialogs: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      watched.consoleErrors.push(`${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => watched.pageErrors.push(error.message));
  page.on('dialog', (dialog) => {
    watched.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('request', (request) => watched.requests.push(request.url()));
  // Anything other than the page itself would be a network request: refuse it.
  const url = pathToFileURL(path).href;
  await page.route('**/*', (route) =>
    route.request().url() === url ? route.continue() : route.abort(),
  );
  await page.goto(url, { waitUntil: 'load' });
  return watched;
}

function expectClean(w: Watched, url: string) {
  expect(w.consoleErrors).toEqual([]);
  expect(w.pageErrors).toEqual([]);
  expect(w.dialogs).toEqual([]);
  expect(w.requests.filter((r) => !r.startsWith('data:'))).toEqual([url]);
}

/** Every chart figure holds an SVG whose mark groups contain drawn elements. */
async function chartMarks(page: Page): Promise<number[]> {
  return page.$$eval('figure.chart', (figures) =>
    figures.map((figure) => {
      const svg = figure.querySelector('svg');
      if (!svg) return -1;
      const box = svg.getBoundingClientRect();
      if (box.width < 50 || box.height < 30) return -2;
      return svg.querySelectorAll(
        'g.role-mark > path, g.role-mark > rect, g.role-mark > line, g.role-mark > circle',
      ).length;
    }),
  );
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  }
  root = await mkdtemp(join(tmpdir(), 'medcap-report-e2e-'));
  const dir = join(root, 'run');
  await writeSyntheticRun(dir, {
    rows: 40,
    metrics: true,
    aggregate: true,
    journal: true,
    resumed: true,
    concepts: true,
    failures: 3,
    hostile: true,
    bertscore: true,
  });
  reportPath = (await writeReport({ dir, split: 'train' })).path;

  const bare = join(root, 'bare');
  await writeSyntheticRun(bare, { rows: 12, images: 4, hostile: true });
  bareReportPath = (await writeReport({ dir: bare, split: 'train' })).path;

  // evaluate's outputs alone (evaluate --out in a folder of its own): no captions CSV
  const long = join(root, 'long');
  await writeSyntheticRun(long, { rows: 6, images: 2, metrics: true });
  const rows = await readCaptionsCsv(join(long, 'medical_captions_train.csv'));
  rows[0]!.generatedCaption = LONG_CAPTION;
  rows[1]!.generatedCaption = 'Tomografía axial — 肺结节, 右上叶';
  await writeFile(join(long, 'medical_captions_train_with_metrics.csv'), formatCaptionsCsv(rows));
  await rm(join(long, 'medical_captions_train.csv'));
  longReportPath = (await writeReport({ dir: long, split: 'train' })).path;

  const longId = join(root, 'long-id');
  await writeSyntheticRun(longId, { rows: 6, images: 2 });
  const idRows = await readCaptionsCsv(join(longId, 'medical_captions_train.csv'));
  idRows[0]!.imageId = LONG_ID;
  await writeFile(join(longId, 'medical_captions_train.csv'), formatCaptionsCsv(idRows));
  longIdReportPath = (await writeReport({ dir: longId, split: 'train' })).path;

  comparePath = join(root, 'compare.html');
  await writeFile(
    comparePath,
    await renderComparisonPage({
      a: { label: HOSTILE_CAPTION, details: { model: 'Qwen2-VL-2B' } },
      b: { label: 'fine-tuned', details: { model: 'Qwen2-VL-2B-ft' } },
      split: 'test',
      metrics: [
        { name: 'bleu_4', a: 0.05, b: 0.07, difference: 0.02, pValue: 0.001, n: 200 },
        { name: 'rouge_l', a: 0.3, b: 0.29, difference: -0.01, pValue: 0.4, n: 200 },
      ],
    }),
  );

  context = await chromium.launchPersistentContext(await mkdtemp(join(root, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
});

afterAll(async () => {
  await context?.close();
  await rm(root, { recursive: true, force: true });
});

describe('the report in Chromium', () => {
  it('loads with no console errors and no requests, and every chart has marks', async () => {
    const w = await open(reportPath);
    expectClean(w, pathToFileURL(reportPath).href);
    const marks = await chartMarks(w.page);
    expect(marks).toHaveLength(19);
    for (const count of marks) expect(count).toBeGreaterThan(0);
    // Thumbnails decoded (data: URIs are allowed by the CSP).
    const thumbs = await w.page.$$eval('article.item img', (imgs) =>
      imgs.map((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
    );
    expect(thumbs.length).toBe(36);
    for (const width of thumbs) expect(width).toBeGreaterThan(0);
    await mkdir(OUTPUT, { recursive: true });
    await w.page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true });
    await w.page.close();
  });

  it('shows script-carrying captions as text and runs none of them', async () => {
    const w = await open(reportPath);
    const page = w.page;
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBe(
      undefined,
    );
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.getByText(HOSTILE_CAPTION, { exact: false }).count()).toBeGreaterThan(0);
    expect(await page.getByText(HOSTILE_REFERENCE, { exact: false }).count()).toBeGreaterThan(0);
    expect(await page.getByText(HOSTILE_ID, { exact: true }).count()).toBe(1);
    // Hovering and clicking around does not trigger anything either.
    await page.getByText(HOSTILE_CAPTION).first().hover();
    expect(w.dialogs).toEqual([]);
    expectClean(w, pathToFileURL(reportPath).href);
    await page.close();
  });

  it('filters the gallery as the user types', async () => {
    const w = await open(reportPath);
    const page = w.page;
    const items = page.locator('article.item');
    const visible = () => page.locator('article.item:visible').count();
    const total = await items.count();
    expect(total).toBe(37);
    expect(await visible()).toBe(37);
    await expect.poll(() => page.locator('#gallery-count').textContent()).toBe('37 items');

    const filter = page.locator('#gallery-filter');
    const id = (await items.nth(5).locator('.id span').first().textContent())!;
    await filter.fill(id.toUpperCase());
    expect(await visible()).toBe(1);
    expect(await page.locator('article.item:visible .id span').first().textContent()).toBe(id);
    expect(await page.locator('#gallery-count').textContent()).toBe('1 of 37 items match');

    // Several words must all appear; markup typed into the box is just text.
    await filter.fill('onerror alert(1)');
    expect(await visible()).toBe(1);
    await filter.fill('no-such-caption-anywhere');
    expect(await visible()).toBe(0);
    expect(await page.locator('[data-empty]:visible').count()).toBe(2);
    await filter.fill('');
    expect(await visible()).toBe(37);
    expect(await page.locator('[data-empty]:visible').count()).toBe(0);
    expectClean(w, pathToFileURL(reportPath).href);
    await page.close();
  });

  it('renders a report built from the captions CSV alone', async () => {
    const w = await open(bareReportPath);
    expectClean(w, pathToFileURL(bareReportPath).href);
    const marks = await chartMarks(w.page);
    expect(marks).toHaveLength(3);
    for (const count of marks) expect(count).toBeGreaterThan(0);
    expect(await w.page.locator('article.item').count()).toBe(12);
    expect(await w.page.locator('article.item .thumb.none').count()).toBe(1);
    await w.page.close();
  });

  it('keeps a run-away caption in a scrolling box, whole, and non-ASCII text as written', async () => {
    const w = await open(longReportPath);
    expectClean(w, pathToFileURL(longReportPath).href);
    const cards = await w.page.$$eval('article.item', (items) =>
      items.map((item) => {
        const gen = item.querySelector('p.gen') as unknown as {
          textContent: string;
          scrollHeight: number;
          clientHeight: number;
        };
        const box = item.getBoundingClientRect();
        return {
          height: box.height,
          text: gen.textContent,
          scrolls: gen.scrollHeight > gen.clientHeight,
        };
      }),
    );
    expect(cards).toHaveLength(6);
    const long = cards.find((c) => c.text.includes('unbroken'))!;
    expect(long.text).toContain(LONG_CAPTION);
    expect(long.scrolls).toBe(true);
    for (const card of cards) expect(card.height).toBeLessThan(400);
    expect(cards.some((c) => c.text.includes('Tomografía axial — 肺结节, 右上叶'))).toBe(true);
    await w.page.close();
  });

  it('keeps a run-away image id in a scrolling box, whole, without stretching the cards', async () => {
    const w = await open(longIdReportPath);
    expectClean(w, pathToFileURL(longIdReportPath).href);
    const cards = await w.page.$$eval('article.item', (items) =>
      items.map((item) => {
        const name = item.querySelector('.id .name') as unknown as {
          textContent: string;
          scrollHeight: number;
          clientHeight: number;
        };
        return {
          height: item.getBoundingClientRect().height,
          id: name.textContent,
          scrolls: name.scrollHeight > name.clientHeight,
        };
      }),
    );
    expect(cards).toHaveLength(6);
    const long = cards.find((c) => c.id.startsWith('ROCO_'))!;
    expect(long.id).toBe(LONG_ID);
    expect(long.scrolls).toBe(true);
    for (const card of cards) expect(card.height).toBeLessThan(400);
    // The filter still finds it by the end of its id.
    await w.page.fill('#gallery-filter', LONG_ID.slice(-40));
    expect(await w.page.locator('article.item:visible').count()).toBe(1);
    await w.page.close();
  });

  it('puts every table header over its column, the failures table and the comparison too', async () => {
    const misaligned = (page: Page) =>
      page.$$eval('table.data', (tables) =>
        tables.flatMap((table) => {
          const { getComputedStyle } = globalThis as unknown as {
            getComputedStyle(element: unknown): { textAlign: string };
          };
          const heads = [...table.querySelectorAll('thead th')];
          const cells = [...(table.querySelector('tbody tr')?.querySelectorAll('td') ?? [])];
          return heads
            .map((th, i) => [th, cells[i]] as const)
            .filter(
              ([th, td]) => td && getComputedStyle(th).textAlign !== getComputedStyle(td).textAlign,
            )
            .map(([th]) => th.textContent);
        }),
      );
    const report = await open(reportPath);
    expect(await report.page.locator('#failures table.data thead th').allTextContents()).toEqual([
      'Image',
      'Error',
    ]);
    expect(await misaligned(report.page)).toEqual([]);
    await report.page.close();
    const comparison = await open(comparePath);
    expect(await misaligned(comparison.page)).toEqual([]);
    await comparison.page.close();
  });

  it('renders the comparison page cleanly', async () => {
    const w = await open(comparePath);
    expectClean(w, pathToFileURL(comparePath).href);
    const marks = await chartMarks(w.page);
    expect(marks).toHaveLength(1);
    expect(marks[0]).toBeGreaterThan(0);
    expect(await w.page.getByText(HOSTILE_CAPTION, { exact: false }).count()).toBeGreaterThan(0);
    expect(await w.page.locator('img').count()).toBe(0);
    await mkdir(OUTPUT, { recursive: true });
    await w.page.screenshot({ path: join(OUTPUT, 'compare.png'), fullPage: true });
    await w.page.close();
  });
});
