/**
 * Takes the README's picture of the HTML report (docs/report.png) from a real report, in headless
 * Chromium:
 *
 *   npx dlprof analyze fixtures/resnet-tiny.onnx --html /tmp/report.html
 *   node dist/scripts/report-screenshot.js /tmp/report.html docs/report.png 770
 *
 * The top of the page (the output check, the latency ladder, the first suggestions) at 1000 px
 * wide; Chromium from $CHROMIUM_PATH, else /usr/bin/chromium (scripts/setup-system.sh installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [html, out, height = '1100'] = process.argv.slice(2);
if (!html || !out || !fs.existsSync(html)) {
  console.error('usage: node dist/scripts/report-screenshot.js REPORT.html OUT.png [HEIGHT_PX]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: Number(height) }, deviceScaleFactor: 1 });
  await page.goto(`file://${path.resolve(html)}`);
  await page.screenshot({ path: out, type: 'png' });
} finally {
  await browser.close();
}
console.log(`${out}: ${fs.statSync(out).size} bytes`);
