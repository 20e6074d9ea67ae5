// The official socket.io-client (4.8, in Node and in Chromium) against Crossgate's hosted mode, over polling only,
// WebSocket only and the upgrade between them. Prints one JSON object: { node: {polling, websocket, upgrade},
// chromium: {...} }.
//   node hosted-clients.mjs config.json
// config: { "server": "http://localhost:P", "page": "http://localhost:Q/" } (loopback only); the page serves the
// client bundle and is on another origin than the server.
import { readFileSync } from 'node:fs';
import { io } from 'socket.io-client';
import { chromium } from 'playwright-core';
import { hostedSession } from './hosted-session.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const u of [config.server, config.page]) {
  if (!/^http:\/\/(localhost|127\.0\.0\.1):\d+\/?$/.test(u)) {
    console.error('only loopback URLs: ' + u);
    process.exit(2);
  }
}
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
setTimeout(() => { console.log(JSON.stringify({ error: 'timeout after 90 s' })); process.exit(0); }, 90_000).unref();

const out = { node: {}, chromium: {} };
try {
  for (const mode of ['polling', 'websocket', 'upgrade']) {
    out.node[mode] = await hostedSession(io, config.server, mode, 'node-' + mode);
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(config.page);
    for (const mode of ['polling', 'websocket', 'upgrade']) {
      out.chromium[mode] = await page.evaluate(async ([src, server, mode]) => {
        const session = (0, eval)('(' + src + ')');
        return session(window.io, server, mode, 'chromium-' + mode);
      }, [hostedSession.toString(), config.server, mode]);
    }
  } finally {
    await browser.close();
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
console.log(JSON.stringify(out));
process.exit(0);
