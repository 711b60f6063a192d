import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './escape.js';

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')"> & more`)).toBe(
      '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; more',
    );
  });

  it('turns null and undefined into empty text and numbers into text', () => {
    expect(escapeHtml(null)).toBe('');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(0.5)).toBe('0.5');
  });
});

describe('html template', () => {
  it('escapes interpolated values but not the template itself', () => {
    const caption = '<script>alert(1)</script>';
    expect(html`<p class="c">${caption}</p>`.value).toBe(
      '<p class="c">&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });

  it('keeps nested fragments and raw markup, joins arrays, drops false/null', () => {
    const items = ['a<b', 'c&d'].map((t) => html`<li>${t}</li>`);
    expect(html`<ul>${items}</ul>${false}${null}${raw('<hr>')}`.value).toBe(
      '<ul><li>a&lt;b</li><li>c&amp;d</li></ul><hr>',
    );
  });

  it('escapes attribute breakouts', () => {
    const id = 'x" onmouseover="alert(1)';
    expect(html`<div title="${id}"></div>`.value).toBe(
      '<div title="x&quot; onmouseover=&quot;alert(1)"></div>',
    );
  });
});
