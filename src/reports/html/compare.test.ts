import { describe, expect, it } from 'vitest';
import { renderComparisonPage } from './compare.js';

describe('renderComparisonPage', () => {
  it('shows both runs, each metric with its difference and p-value, and a chart', async () => {
    const page = await renderComparisonPage({
      a: { label: 'qwen2-vl-2b <b>base</b>', details: { model: 'Qwen2-VL-2B', dir: '/runs/a' } },
      b: { label: 'fine-tuned "v2"', details: { model: 'Qwen2-VL-2B-ft' } },
      split: 'test',
      method: 'paired approximate randomization, 10,000 trials',
      metrics: [
        { name: 'bleu_4', a: 0.05, b: 0.07, difference: 0.02, pValue: 0.0004, n: 500 },
        { name: 'rouge_l', a: 0.3, b: 0.29, difference: -0.01, pValue: 0.31, n: 500 },
        { name: 'cider', a: 0.2, b: 0.1, difference: -0.1, pValue: 0.01, n: 500 },
      ],
      generatedAt: new Date(Date.UTC(2025, 0, 1)),
    });
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain('qwen2-vl-2b &lt;b&gt;base&lt;/b&gt;');
    expect(page).toContain('fine-tuned &quot;v2&quot;');
    expect(page).not.toContain('<b>base</b>');
    expect(page).toMatch(
      /<td>BLEU-4<\/td><td>0\.0500<\/td><td>0\.0700<\/td><td class="pos">\+0\.0200<\/td><td class="pos">\+40\.0%<\/td><td><span class="sig">&lt; 0\.001<\/span><\/td><td>500<\/td>/,
    );
    expect(page).toMatch(/<td>ROUGE-L<\/td>.*<td class="">−0\.0100<\/td>.*<td>0\.310<\/td>/);
    expect(page).toMatch(/<td>CIDEr-D<\/td>.*<td class="neg">−0\.1000<\/td>/);
    expect(page).toContain('paired approximate randomization, 10,000 trials');
    // Tiles: one better, one worse, one unchanged.
    expect(page).toMatch(/B better<\/div><div class="v pos">1</);
    expect(page).toMatch(/B worse<\/div><div class="v neg">1</);
    expect(page.match(/<svg class="chart-svg"/g)).toHaveLength(1);
    expect(page).not.toContain('<script');
    expect(page).toContain("script-src 'none'");
  });

  it('renders an empty comparison without a chart', async () => {
    const page = await renderComparisonPage({ a: { label: 'A' }, b: { label: 'B' }, metrics: [] });
    expect(page).toContain('No metrics to compare.');
    expect(page).not.toContain('<svg');
  });
});
