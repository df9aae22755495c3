/**
 * The report as one self-contained HTML file: the report page's script and styles (the bundled
 * front end) and the report's data inlined, so it opens anywhere without a network.
 */
import type { UpgradeReport } from './model.js';

/** `text` safe inside a `<script>` or `<style>` element. */
function inline(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

/** The HTML file of report `r` with the report page's `js` and `css` inlined. */
export function reportHtml(r: UpgradeReport, assets: { js: string; css: string }): string {
  // JSON with every `<` escaped cannot close the script element it sits in.
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baton report: ${escapeHtml(r.upgrade.name)} (${escapeHtml(r.upgrade.phase)})</title>
<style>${inline(assets.css)}</style>
</head>
<body>
<noscript>This report draws its timeline and plots with JavaScript; the data is in the report-data element.</noscript>
<script id="report-data" type="application/json">${data}</script>
<script>${inline(assets.js)}</script>
</body>
</html>
`;
}
