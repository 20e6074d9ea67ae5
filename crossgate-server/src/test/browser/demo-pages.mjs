// Issue 13: `crossgate demo`'s two pages in real Chromium: the allowed origin's and the refused origin's. Each runs its
// calls on load; this waits (bounded) until they are done and prints {allowed: {label: text}, refused: {...}}, with a
// screenshot of each page under SHOT_DIR.
//   node demo-pages.mjs http://127.0.0.1:P/ http://127.0.0.2:Q/ SHOT_DIR
import { chromium } from 'playwright-core';

const [allowed, refused, shots] = process.argv.slice(2);
for (const u of [allowed, refused]) {
  if (!/^http:\/\/127\.0\.0\.[12]:\d+\/$/.test(u)) {
    console.error('only loopback demo pages: ' + u);
    process.exit(2);
  }
}
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const out = {};
try {
  for (const [name, url] of [['allowed', allowed], ['refused', refused]]) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.done === 'yes', null, { timeout: 90000 });
    out[name] = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('tr[data-label]')]
      .map((tr) => [tr.dataset.label, tr.querySelector('output').innerText])));
    out[name].role = await page.evaluate(() => document.getElementById('role').textContent);
    await page.screenshot({ path: shots + '/demo-' + name + '.png', fullPage: true });
    await page.close();
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message || e), ...out }));
} finally {
  await browser.close();
}
