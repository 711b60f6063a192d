import { describe, expect, it } from 'vitest';
import { breakdownSpec, histogramSpec, renderSvg } from './charts.js';

describe('renderSvg', () => {
  it('renders a Vega-Lite histogram to SVG with one rect mark per bin', async () => {
    const svg = await renderSvg(
      histogramSpec({
        column: 'bleu_4',
        label: 'BLEU-4',
        bins: [
          { start: 0, end: 0.5, count: 3 },
          { start: 0.5, end: 1, count: 1 },
        ],
        mean: 0.3,
        n: 4,
      }),
    );
    expect(svg.startsWith('<svg class="chart-svg"')).toBe(true);
    expect(svg.slice(0, svg.indexOf('>')).match(/ class=/g)).toHaveLength(1);
    const rects = /<g class="mark-rect role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/.exec(svg)![1]!;
    expect(rects.match(/<path/g)).toHaveLength(2);
    expect(svg).toContain('mark-rule');
  });

  it('escapes labels that come from data', async () => {
    const svg = await renderSvg(
      breakdownSpec(
        {
          kind: 'concept',
          columns: ['rouge_l'],
          groups: [
            {
              key: '<script>alert(1)</script>',
              label: '<script>alert(1)</script>',
              n: 2,
              means: { rouge_l: 0.5 },
              generatedWords: 3,
              referenceWords: 4,
            },
          ],
        },
        'rouge_l',
      ),
    );
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('gives every chart its own clip-path ids', async () => {
    const spec = breakdownSpec(
      {
        kind: 'modality',
        columns: [],
        groups: [
          {
            key: 'C0040405',
            label: 'CT',
            n: 5,
            means: {},
            generatedWords: null,
            referenceWords: null,
          },
        ],
      },
      null,
    );
    const ids = async () =>
      [...(await renderSvg(spec)).matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    const [a, b] = [await ids(), await ids()];
    for (const id of a) expect(b).not.toContain(id);
  });
});
