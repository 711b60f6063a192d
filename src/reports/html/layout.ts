import { createHash } from 'node:crypto';
import { type Html, html, raw } from './escape.js';

/**
 * The page shell shared by the report and the comparison page: one inline stylesheet, at
 * most one inline script, and a Content-Security-Policy that allows exactly those two (by
 * hash), images only as data: URIs, and nothing from the network.
 */

export const STYLES = `
:root{color-scheme:light;--ink:#1d232c;--muted:#5b6472;--faint:#8a93a0;--line:#e2e6eb;--bg:#f4f6f8;--card:#fff;--accent:#3b6ea8;--good:#2f8f5b;--bad:#c2362f;--chip:#eef2f7}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
[hidden]{display:none!important}
.page{max-width:1240px;margin:0 auto;padding:28px 28px 48px}
header.top{display:flex;flex-wrap:wrap;align-items:flex-end;justify-content:space-between;gap:12px;margin-bottom:18px}
header.top h1{font-size:24px;line-height:1.2;margin:0 0 4px;font-weight:650;letter-spacing:-.01em}
header.top .sub{color:var(--muted);font-size:13px;word-break:break-all}
.badge{display:inline-block;padding:2px 8px;border-radius:999px;background:var(--chip);color:var(--accent);font-size:12px;font-weight:600;margin-left:6px;vertical-align:middle}
nav.toc{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:4px 14px;padding:8px 0 10px;margin-bottom:14px;background:var(--bg);border-bottom:1px solid var(--line);font-size:13px}
nav.toc a{color:var(--muted);text-decoration:none}
nav.toc a:hover{color:var(--accent)}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px 20px;margin:0 0 18px}
section.card>h2{font-size:16px;margin:0 0 2px;font-weight:650}
section.card>p.lead{margin:0 0 14px;color:var(--muted);font-size:13px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:12px 0 14px}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fbfcfd}
.tile .k{color:var(--muted);font-size:11.5px;text-transform:uppercase;letter-spacing:.04em}
.tile .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px;word-break:break-word}
.tile .v.small{font-size:14px;font-weight:600}
.tile .n{color:var(--faint);font-size:11.5px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0;font-size:13px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;word-break:break-word}
details.more{margin-top:10px;font-size:13px}
details.more summary{cursor:pointer;color:var(--accent)}
table.data{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:6px 10px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}
table.data th:first-child,table.data td:first-child{text-align:left}
table.data thead th{color:var(--muted);font-weight:600;font-size:12px;border-bottom:1.5px solid #cfd5dc;background:#fbfcfd}
table.data tbody tr:hover{background:#f7f9fb}
table.data .wrap{white-space:normal;text-align:left;word-break:break-word}
.scroll{overflow-x:auto}
.note{color:var(--muted);font-size:12.5px;margin:8px 0 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:14px}
.scroll+.charts,.scroll+.note{margin-top:14px}
.charts.wide{grid-template-columns:repeat(auto-fill,minmax(460px,1fr))}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px 8px;background:#fff;min-width:0}
figure.chart figcaption{font-size:13px;font-weight:600;margin-bottom:4px}
figure.chart figcaption span{display:block;font-weight:400;color:var(--muted);font-size:12px}
figure.chart svg{display:block;max-width:100%;height:auto}
figure.chart svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.legend-note{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:4px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.sw-mean{background:#c2362f}
.filter{display:flex;flex-wrap:wrap;align-items:center;gap:10px;margin:4px 0 14px}
.filter input{flex:1 1 320px;max-width:520px;padding:8px 12px;border:1px solid #c9d0d8;border-radius:8px;font:inherit;background:#fff}
.filter input:focus{outline:2px solid #b7cbe3;border-color:var(--accent)}
.filter .count{color:var(--muted);font-size:13px}
h3.gallery-title{font-size:14px;margin:18px 0 10px;font-weight:650}
h3.gallery-title .hint{font-weight:400;color:var(--muted);font-size:12.5px;margin-left:6px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
article.item{display:grid;grid-template-columns:112px 1fr;gap:12px;border:1px solid var(--line);border-radius:8px;padding:10px;background:#fff;min-width:0}
article.item .thumb{width:112px;height:112px;border-radius:6px;background:#11151a;display:flex;align-items:center;justify-content:center;overflow:hidden}
article.item .thumb img{max-width:100%;max-height:100%;display:block}
article.item .thumb.none{background:#eef1f4;color:var(--faint);font-size:11px;text-align:center;padding:6px}
article.item .body{min-width:0;font-size:12.5px}
article.item .id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;color:var(--muted);word-break:break-all;display:flex;justify-content:space-between;gap:8px}
article.item .id .name{min-width:0;max-height:4.5em;overflow-y:auto}
article.item .rank{color:var(--faint);white-space:nowrap}
article.item p{margin:5px 0 0;word-break:break-word;white-space:pre-wrap;max-height:10.5em;overflow-y:auto}
article.item p b{display:inline-block;min-width:30px;font-size:10.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--faint);font-weight:600}
article.item p.gen b{color:var(--accent)}
.scores{display:flex;flex-wrap:wrap;gap:4px;margin-top:7px}
.scores span{background:var(--chip);border-radius:4px;padding:1px 6px;font-size:11px;font-variant-numeric:tabular-nums;color:#2a303a}
.scores span.main{background:#dde8f5;font-weight:650}
.concepts{color:var(--faint);font-size:11px;margin-top:5px}
.breakdown{display:grid;grid-template-columns:minmax(0,4fr) minmax(0,8fr);gap:16px;align-items:start;margin-top:14px}
.breakdown .scroll{border:1px solid var(--line);border-radius:8px}
.cui{display:block;color:var(--faint);font-size:11px;line-height:1.2}
.headline{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:4px 0 16px}
.headline .tile .v{color:var(--accent)}
.empty{color:var(--muted);font-size:13px;padding:6px 0}
.sig{color:var(--good);font-weight:650}
.pos{color:var(--good)}
.neg{color:var(--bad)}
footer{color:var(--faint);font-size:12px;margin-top:26px;line-height:1.6}
footer code{font-size:11.5px}
.breakdown .scroll table.data th,.breakdown .scroll table.data td{padding:6px 8px}
@media (max-width:980px){.breakdown{grid-template-columns:1fr}}
@media (max-width:640px){.page{padding:16px}.gallery{grid-template-columns:1fr}.charts.wide{grid-template-columns:1fr}article.item{grid-template-columns:80px 1fr}article.item .thumb{width:80px;height:80px}}
@media print{body{background:#fff}nav.toc,.filter{display:none}article.item p,article.item .id .name{max-height:none}section.card{break-inside:avoid-page;border-color:#ccc}.page{max-width:none;padding:0}}
`.trim();

/** The gallery filter: the page's only script. Words must all appear (any order, any case). */
export const FILTER_SCRIPT = `
(function () {
  var input = document.getElementById('gallery-filter');
  if (!input) return;
  var items = Array.prototype.slice.call(document.querySelectorAll('[data-item]'));
  var groups = Array.prototype.slice.call(document.querySelectorAll('[data-group]'));
  var count = document.getElementById('gallery-count');
  var texts = items.map(function (item) { return item.textContent.toLowerCase(); });
  function apply() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item, i) {
      var ok = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      item.hidden = !ok;
      if (ok) shown += 1;
    });
    groups.forEach(function (group) {
      var any = group.querySelector('[data-item]:not([hidden])') !== null;
      var empty = group.querySelector('[data-empty]');
      if (empty) empty.hidden = any;
    });
    if (count) count.textContent = words.length === 0 ? items.length + ' items' : shown + ' of ' + items.length + ' items match';
  }
  input.addEventListener('input', apply);
  apply();
})();
`.trim();

export function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export function contentSecurityPolicy(options: { script: boolean }): string {
  return [
    "default-src 'none'",
    'img-src data:',
    `style-src ${cspHash(STYLES)}`,
    `script-src ${options.script ? cspHash(FILTER_SCRIPT) : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function pageShell(options: {
  title: string;
  body: Html;
  script: boolean;
  description?: string;
}): string {
  return `<!doctype html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${raw(contentSecurityPolicy({ script: options.script }))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="medcap">
${options.description ? html`<meta name="description" content="${options.description}">` : ''}
<title>${options.title}</title>
<link rel="icon" href="data:,">
<style>${raw(STYLES)}</style>
</head>
<body>
${options.body}
${options.script ? html`<script>${raw(FILTER_SCRIPT)}</script>` : ''}
</body>
</html>
`.value
  }`;
}
