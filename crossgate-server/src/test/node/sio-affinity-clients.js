// The official socket.io-client 4.8 (in Node: no cookies, no Origin) through Crossgate to two socket.io upstreams:
// COUNT sessions of each mode (polling only, WebSocket only, polling then upgrade), each asking "whoami" three
// times, then (phase 2) COUNT sessions kept open with reconnection on while the test kills one upstream: each
// reports the upstream it is on after reconnecting. Prints JSON lines; {"phase": "holding"} when phase 2's
// sessions are all connected (the test then kills one upstream), and a final {"done": ...}.
//   NODE_PATH=test-peers/node_modules node sio-affinity-clients.js http://127.0.0.1:PORT COUNT
const { io } = require('socket.io-client');
const readline = require('readline');

const [url, count] = [process.argv[2], Number(process.argv[3] || 10)];
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url) || !(count > 0 && count <= 50)) {
  console.error('usage: node sio-affinity-clients.js http://127.0.0.1:PORT COUNT(1-50)');
  process.exit(2);
}
setTimeout(() => { console.log(JSON.stringify({ error: 'timeout after 100 s' })); process.exit(0); }, 100_000).unref();
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
  const s = io(url, { forceNew: true, reconnection: false, timeout: 4000, transports: transportsOf(mode) });
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

(async () => {
  const results = {};
  for (const mode of ['polling', 'websocket', 'upgrade']) {
    results[mode] = [];
    for (let i = 0; i < count; i++) results[mode].push(await session(mode));
  }
  console.log(JSON.stringify({ phase: 'sessions', results }));
  // Phase 2: sessions that stay, with reconnection on, polling only (the transport affinity matters most for).
  const held = [];
  for (let i = 0; i < count; i++) {
    const s = io(url, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300, timeout: 4000, transports: ['polling'] });
    await withTimeout(new Promise((r) => s.once('connect', r)), 5000, 'held connect');
    held.push({ s, before: await withTimeout(s.emitWithAck('whoami'), 5000, 'held whoami') });
  }
  console.log(JSON.stringify({ phase: 'holding', before: held.map((h) => h.before) }));
  const rl = readline.createInterface({ input: process.stdin });
  const killed = await new Promise((r) => rl.once('line', r)); // the test names the upstream it killed
  const after = [];
  for (const h of held) {
    // Until this session answers from an upstream other than the killed one: a session may not have noticed the
    // death yet (its whoami then fails, or it is still mid-reconnection); every attempt is bounded.
    let name = null;
    const end = Date.now() + 30000;
    while (Date.now() < end) {
      if (h.s.connected) {
        name = await withTimeout(h.s.emitWithAck('whoami'), 3000, 'whoami after').catch((e) => 'error: ' + e.message);
        if (name !== killed && !name.startsWith('error: ')) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    after.push(name);
    h.s.close();
  }
  console.log(JSON.stringify({ done: true, killed, after }));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ error: String(e.stack || e) })); process.exit(0); });
