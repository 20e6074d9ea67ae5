// Opens pages in a real headless Chromium (Debian's, driven by playwright-core) and, from each, connects
// the official socket.io-client bundle to a Socket.IO server on another origin with credentials (cookies),
// over polling and over WebSocket. Prints one JSON object with what each page saw.
//   node socketio-browser.mjs config.json
// config: { "server": "http://localhost:P", "pages": ["http://localhost:Q/", ...] } (loopback only)
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const u of [config.server, ...config.pages]) {
  if (!/^http:\/\/(localhost|127\.0\.0\.1):\d+\/?$/.test(u)) {
    console.error('only loopback URLs: ' + u);
    process.exit(2);
  }
}
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout after 60 s' })); process.exit(0); }, 60_000);
timer.unref();

const browser = await chromium.launch({ executablePath: config.chromium || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const context = await browser.newContext();
const out = {};
try {
  for (const pageUrl of config.pages) {
    const page = await context.newPage();
    await page.goto(pageUrl);
    out[pageUrl] = await page.evaluate(async (server) => {
      const withTimeout = (p, ms) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), ms))]);
      async function session(transports) {
        const s = io(server, { transports, withCredentials: true, forceNew: true, reconnection: false, timeout: 4000 });
        const cookie = new Promise((r) => s.once('cookie', r));
        try {
          await withTimeout(new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); }), 5000);
        } catch (e) {
          s.close();
          return { connected: false, error: e.message };
        }
        const ack = await withTimeout(s.emitWithAck('echo', 'from ' + location.origin), 5000);
        const seen = await withTimeout(cookie, 5000);
        const transport = s.io.engine.transport.name;
        s.disconnect();
        return { connected: true, ack, cookieOnHandshake: seen, transport };
      }
      return {
        polling1: await session(['polling']),
        polling2: await session(['polling']),
        websocket: await session(['websocket']),
      };
    }, config.server);
    await page.close();
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
await browser.close();
console.log(JSON.stringify(out));
process.exit(0);
