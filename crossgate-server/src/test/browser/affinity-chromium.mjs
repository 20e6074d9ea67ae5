// Issue 12: the official socket.io-client in real Chromium (cookies on) through Crossgate to two socket.io upstreams:
// COUNT sessions of each mode (polling only, WebSocket only, polling then upgrade), each asking "whoami" three times.
// The page is served through the same Crossgate (same origin), so the browser keeps the crossgate_eio_upstream cookie.
// Prints one JSON object: {results: {polling: [...], websocket: [...], upgrade: [...]}, cookies: [names]}.
//   node affinity-chromium.mjs http://127.0.0.1:PORT/page/ COUNT
import { chromium } from 'playwright-core';

const [page, count] = [process.argv[2], Number(process.argv[3] || 10)];
if (!/^http:\/\/127\.0\.0\.1:\d+\/page\/$/.test(page) || !(count > 0 && count <= 50)) {
  console.error('usage: node affinity-chromium.mjs http://127.0.0.1:PORT/page/ COUNT(1-50)');
  process.exit(2);
}
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
setTimeout(() => { console.log(JSON.stringify({ error: 'timeout after 100 s' })); process.exit(0); }, 100_000).unref();

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(page);
  const results = await tab.evaluate(async (count) => {
    const withTimeout = (p, ms, what) =>
      Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout: ' + what)), ms))]);
    const until = async (cond, ms, what) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error('timeout: ' + what);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const transportsOf = (mode) => (mode === 'polling' ? ['polling'] : mode === 'websocket' ? ['websocket'] : ['polling', 'websocket']);
    async function session(mode) {
      const s = window.io(location.origin, { forceNew: true, reconnection: false, timeout: 4000, transports: transportsOf(mode), withCredentials: true });
      try {
        await withTimeout(new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); }), 5000, 'connect');
        if (mode === 'upgrade') await until(() => s.io.engine.transport.name === 'websocket', 5000, 'upgrade');
        const names = [];
        for (let i = 0; i < 3; i++) names.push(await withTimeout(s.emitWithAck('whoami'), 5000, 'whoami'));
        const r = { ok: true, sid: s.io.engine.id, names, transport: s.io.engine.transport.name };
        s.disconnect();
        return r;
      } catch (e) {
        s.close();
        return { ok: false, error: String(e.message || e) };
      }
    }
    const results = {};
    for (const mode of ['polling', 'websocket', 'upgrade']) {
      results[mode] = [];
      for (let i = 0; i < count; i++) results[mode].push(await session(mode));
    }
    return results;
  }, count);
  const cookies = (await context.cookies()).map((c) => c.name);
  console.log(JSON.stringify({ results, cookies }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message || e) }));
} finally {
  await browser.close();
}
