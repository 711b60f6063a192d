import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HOSTILE_CAPTION,
  HOSTILE_ID,
  HOSTILE_REFERENCE,
  writeSyntheticRun,
} from '../../../test/e2e/report-fixture.js';
import { writeReport } from './index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-report-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

describe('writeReport', () => {
  it('writes one self-contained page with every section from a full run directory', async () => {
    const dir = join(root, 'full');
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
    const result = await writeReport({ dir, split: 'train', now: new Date(Date.UTC(2025, 5, 1)) });
    expect(result.path).toBe(join(dir, 'medical_train_report.html'));
    const page = await readFile(result.path, 'utf8');
    expect(result.bytes).toBe(Buffer.byteLength(page));
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    for (const id of [
      'summary',
      'metrics',
      'distributions',
      'lengths',
      'runtime',
      'breakdown',
      'gallery',
      'failures',
    ]) {
      expect(page).toContain(`id="${id}"`);
    }
    // 12 metric histograms, length + length ratio, throughput + memory + time per image,
    // modality + concept breakdowns.
    expect(count(page, /<figure class="chart">/g)).toBe(19);
    expect(count(page, /<svg class="chart-svg"/g)).toBe(19);
    expect(page).toContain('2 sessions (resumed)');

    // Data is escaped everywhere.
    expect(page).not.toContain(HOSTILE_CAPTION);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('<script>window.__pwned');
    expect(page).toContain(
      '&lt;script&gt;window.__pwned = 1; alert(2)&lt;/script&gt; &amp; &quot;quotes&quot;',
    );
    expect(page).not.toContain(HOSTILE_ID);
    expect(page).toContain('x&quot;&gt;&lt;svg onload=alert(3)&gt;');
    expect(HOSTILE_REFERENCE).toContain('<script>');

    // Exactly one script, allowed by hash in the CSP; nothing that could load from elsewhere.
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(count(page, /<script/g)).toBe(1);
    const hash = createHash('sha256').update(scripts[0]![1]!, 'utf8').digest('base64');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)![1]!;
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    for (const [, value] of page.matchAll(/\s(?:src|href)="([^"]*)"/g)) {
      expect(value).toMatch(/^(data:|#)/);
    }
    expect(page).not.toMatch(/@import|url\((?!data:|#)/);
    // Ids inside charts (clip paths) are unique on the page.
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);

    // Gallery: every scored item (37 = 40 − 3 failed), thumbnails for all but the missing image.
    expect(count(page, /<article class="item" data-item>/g)).toBe(37);
    expect(count(page, /src="data:image\/webp;base64,/g)).toBe(36);
    expect(count(page, />no image</g)).toBe(1);
    expect(page).toContain('3 images failed');
  });

  it('works from the captions CSV alone', async () => {
    const dir = join(root, 'bare');
    await writeSyntheticRun(dir, { rows: 30, images: 5 });
    const page = await readFile((await writeReport({ dir, split: 'train' })).path, 'utf8');
    expect(page).toContain('No evaluation outputs in this directory');
    expect(page).toContain('throughput and memory over time need it');
    // Length, length ratio, time per image.
    expect(count(page, /<svg class="chart-svg"/g)).toBe(3);
    expect(page).toContain('Sample');
    expect(count(page, /<article class="item" data-item>/g)).toBe(30);
    expect(page).not.toContain('id="distributions"');
    expect(page).not.toContain('id="breakdown"');
  });

  it('keeps a large run light: capped gallery, binned and downsampled charts', async () => {
    const dir = join(root, 'large');
    await writeSyntheticRun(dir, {
      rows: 4000,
      images: 20,
      metrics: true,
      aggregate: true,
      journal: true,
      concepts: true,
    });
    const result = await writeReport({ dir, split: 'train' });
    const page = await readFile(result.path, 'utf8');
    expect(count(page, /<article class="item" data-item>/g)).toBe(48);
    expect(result.bytes).toBeLessThan(1.5 * 1024 * 1024);
    expect(page).toContain('The 24 best and 24 worst of 4,000 scored images');
  });

  it('finds the only split present when the requested one is absent', async () => {
    const dir = join(root, 'valid-only');
    await writeSyntheticRun(dir, { rows: 5, images: 0, split: 'valid' });
    const result = await writeReport({ dir, split: 'train' });
    expect(result.split).toBe('valid');
    expect(result.path).toBe(join(dir, 'medical_valid_report.html'));
    const page = await readFile(result.path, 'utf8');
    expect(count(page, />no image</g)).toBe(5);
  });
});
