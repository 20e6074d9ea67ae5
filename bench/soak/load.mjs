// The soak benchmark's load: paced HTTP, WebSocket and Socket.IO traffic through Crossgate, every answer checked.
//
//   node load.mjs '<json settings>'
//
// Settings (bench/soak.sh writes them): { edge: "http://127.0.0.1:PORT", admin: "http://127.0.0.1:PORT",
//   publishToken, origin, seconds, rampSeconds (the rates grow linearly from 0 over these first seconds),
//   http: { rate, sockets, freshEvery },        requests/s in all (GET 50%, POST 30%, preflight 20%), keep-alive
//                                               sockets, every freshEvery-th request on a new connection
//   ws:   { conns, rate, churnRate },           persistent WebSockets, echo messages/s in all, connections/s opened,
//                                               echoed once and closed
//   sio:  { wsClients, pollingClients, rate, shoutRate, publishRate, churnRate } }
//                                               persistent Socket.IO clients by transport, emit+ack/s in all,
//                                               broadcasts/s asked by a client (event hook) and by the publish API,
//                                               clients/s that connect, emit once with ack and disconnect
// Traffic goes only to 127.0.0.1. Pacing: every 100 ms each kind gets the operations due since the last tick, started
// only while fewer than a bound are in flight (a start that does not fit is counted as skipped, not queued), so the load is bounded
// in count and time whatever the edge does. Every operation has a 10 s deadline.
//
// Checks, each failure an error of its kind: HTTP status, Access-Control-Allow-Origin and the body (the POST's echo
// byte for byte); each WebSocket echo byte for byte and in order, and closes with 1000; every Socket.IO ack equal to
// what was sent; every broadcast (a shout or a publish) delivered once to every persistent client; no unexpected
// disconnect. Progress goes to stderr every 10 s; the summary, one JSON document, to stdout at the end. Exit 0 when
// the summary was printed (its errors decide), 1 when the run could not finish in time.
import http from 'node:http';
import { randomBytes, randomInt } from 'node:crypto';
import WebSocket from 'ws';
import { io } from 'socket.io-client';

const S = JSON.parse(process.argv[2] ?? '{}');
for (const u of [S.edge, S.admin]) {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(u ?? '')) {
    console.error('load: edge and admin must be http://127.0.0.1:PORT');
    process.exit(2);
  }
}
const OP_TIMEOUT_MS = 10_000;
const TICK_MS = 100;
const started = Date.now();
const deadline = started + S.seconds * 1000;
const edgeUrl = new URL(S.edge);
const adminUrl = new URL(S.admin);

// ---------------------------------------------------------------- statistics
const KINDS = ['http_get', 'http_post', 'http_preflight', 'ws_echo', 'ws_churn', 'sio_ack', 'sio_shout', 'sio_publish',
  'sio_delivered', 'sio_churn'];
const stats = Object.fromEntries(KINDS.map((k) => [k, { done: 0, errors: 0, skipped: 0 }]));
const errorSamples = [];
function error(kind, message) {
  stats[kind].errors++;
  if (errorSamples.length < 50) errorSamples.push({ at: Math.round((Date.now() - started) / 1000), kind, message: String(message).slice(0, 300) });
}
const inflight = Object.fromEntries(KINDS.map((k) => [k, 0]));
let stopping = false;

// ---------------------------------------------------------------- pacing
const pacers = [];
function pace(kind, rate, cap, start) {
  if (!(rate > 0)) return;
  pacers.push({ kind, rate, cap, start, credit: 0 });
}
let lastTick = Date.now();
const ticker = setInterval(() => {
  const now = Date.now();
  if (now >= deadline) { stopping = true; return; }
  // Credit by the time that really passed (a timer can fire late on a busy CPU), at most one second's worth.
  const elapsed = Math.min(now - lastTick, 1000);
  lastTick = now;
  // Ramp-up: the rates grow linearly over the first rampSeconds, so the JIT (slow under paranoid leak detection)
  // warms up without a backlog building at full rate.
  const ramp = S.rampSeconds > 0 ? Math.min(1, (now - started) / (S.rampSeconds * 1000)) : 1;
  for (const p of pacers) {
    p.credit += p.rate * ramp * elapsed / 1000;
    while (p.credit >= 1) {
      p.credit -= 1;
      if (inflight[p.kind] >= p.cap) { stats[p.kind].skipped++; continue; }
      p.start();
    }
  }
}, TICK_MS);

// Latencies of completed operations, per kind, in ms (a bounded reservoir: every Nth once full).
const latencies = Object.fromEntries(KINDS.map((k) => [k, []]));
const seen = Object.fromEntries(KINDS.map((k) => [k, 0]));
function recordLatency(kind, ms) {
  const l = latencies[kind];
  if (l.length < 20_000) l.push(ms); else l[seen[kind] % 20_000] = ms;
  seen[kind]++;
}
function percentile(kind, q) {
  const l = [...latencies[kind]].sort((a, b) => a - b);
  return l.length ? Math.round(l[Math.min(l.length - 1, Math.floor(q * l.length))] * 10) / 10 : null;
}

function withDeadline(kind, onTimeout) {
  inflight[kind]++;
  let finished = false;
  const t0 = performance.now();
  const timer = setTimeout(() => { if (!finished) { finished = true; inflight[kind]--; onTimeout(); } }, OP_TIMEOUT_MS);
  return (fn) => {
    if (finished) return false;
    finished = true;
    clearTimeout(timer);
    inflight[kind]--;
    recordLatency(kind, performance.now() - t0);
    fn();
    return true;
  };
}

// ---------------------------------------------------------------- HTTP
const agent = new http.Agent({ keepAlive: true, maxSockets: S.http.sockets, maxFreeSockets: S.http.sockets, timeout: 60_000 });
let httpCount = 0;

function httpRequest(kind, method, path, headers, body, check) {
  const fresh = S.http.freshEvery > 0 && ++httpCount % S.http.freshEvery === 0;
  const done = withDeadline(kind, () => { error(kind, `${method} ${path}: no answer in ${OP_TIMEOUT_MS} ms`); req.destroy(); });
  const req = http.request({ host: '127.0.0.1', port: edgeUrl.port, method, path, agent: fresh ? false : agent,
    headers: { ...headers, origin: S.origin, ...(fresh ? { connection: 'close' } : {}),
      ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => done(() => {
      const problem = check(res, Buffer.concat(chunks));
      if (problem) error(kind, `${method} ${path}: ${problem}`); else stats[kind].done++;
    }));
    res.on('error', (e) => done(() => error(kind, `${method} ${path}: ${e.message}`)));
  });
  req.on('error', (e) => done(() => error(kind, `${method} ${path}: ${e.message}`)));
  req.end(body);
}

function corsProblem(res) {
  return res.headers['access-control-allow-origin'] === S.origin ? null
    : `Access-Control-Allow-Origin ${res.headers['access-control-allow-origin']}`;
}

function httpGet() {
  httpRequest('http_get', 'GET', '/api/hello', {}, null, (res, body) => {
    if (res.statusCode !== 200) return `status ${res.statusCode} (${res.headers['x-crossgate-reason'] ?? ''})`;
    try { if (JSON.parse(body.toString('utf8')).hello !== 'soak') return 'unexpected body'; } catch { return 'body is not JSON'; }
    return corsProblem(res);
  });
}

function httpPost() {
  const sent = randomBytes(randomInt(64, 16 * 1024));
  httpRequest('http_post', 'POST', '/api/echo', { 'content-type': 'application/octet-stream' }, sent, (res, body) => {
    if (res.statusCode !== 200) return `status ${res.statusCode} (${res.headers['x-crossgate-reason'] ?? ''})`;
    if (!body.equals(sent)) return `echo of ${sent.length} bytes came back as ${body.length} different bytes`;
    return corsProblem(res);
  });
}

function httpPreflight() {
  httpRequest('http_preflight', 'OPTIONS', '/api/echo',
    { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }, null, (res) => {
      if (res.statusCode !== 204) return `status ${res.statusCode} (${res.headers['x-crossgate-reason'] ?? ''})`;
      return corsProblem(res);
    });
}

// In flight at most twice the keep-alive sockets per kind: beyond, a start is skipped rather than queued in the agent.
pace('http_get', S.http.rate * 0.5, 2 * S.http.sockets, httpGet);
pace('http_post', S.http.rate * 0.3, 2 * S.http.sockets, httpPost);
pace('http_preflight', S.http.rate * 0.2, 2 * S.http.sockets, httpPreflight);

// ---------------------------------------------------------------- WebSocket
const wsUrl = `ws://127.0.0.1:${edgeUrl.port}/ws`;
const wsConns = [];

function payload() {
  const n = randomInt(16, 4096);
  if (Math.random() < 0.5) return { data: randomBytes(n), binary: true };
  let s = '';
  while (s.length < n) s += randomBytes(96).toString('base64');
  return { data: s.slice(0, n), binary: false };
}

function sameMessage(expected, data, isBinary) {
  if (expected.binary !== isBinary) return false;
  return expected.binary ? Buffer.from(data).equals(expected.data) : Buffer.from(data).toString('utf8') === expected.data;
}

function openPersistent(slot) {
  const ws = new WebSocket(wsUrl, { origin: S.origin, handshakeTimeout: OP_TIMEOUT_MS, perMessageDeflate: false });
  const c = { ws, open: false, pending: [], closing: false };
  wsConns[slot] = c;
  ws.on('open', () => { c.open = true; });
  ws.on('message', (data, isBinary) => {
    const e = c.pending.shift();
    if (!e) { error('ws_echo', 'a message nobody sent'); return; }
    e.done(() => {
      if (sameMessage(e, data, isBinary)) stats.ws_echo.done++;
      else error('ws_echo', `echo of ${e.data.length} ${e.binary ? 'binary' : 'text'} bytes differs`);
    });
  });
  ws.on('error', (e) => { if (!c.closing) error('ws_echo', `connection ${slot}: ${e.message}`); });
  ws.on('close', (code, reason) => {
    c.open = false;
    for (const e of c.pending.splice(0)) e.done(() => error('ws_echo', 'connection closed before the echo'));
    if (c.closing) {
      c.closed?.(code);
    } else {
      error('ws_echo', `connection ${slot} closed unexpectedly: ${code} ${reason}`);
      if (!stopping) setTimeout(() => openPersistent(slot), 1000);
    }
  });
}

function wsSend() {
  const open = wsConns.filter((c) => c && c.open && c.pending.length < 8);
  if (open.length === 0) { stats.ws_echo.skipped++; return; }
  const c = open[randomInt(open.length)];
  const p = payload();
  p.done = withDeadline('ws_echo', () => error('ws_echo', `no echo in ${OP_TIMEOUT_MS} ms`));
  c.pending.push(p);
  c.ws.send(p.data, { binary: p.binary });
}

function wsChurn() {
  const done = withDeadline('ws_churn', () => { error('ws_churn', `open, echo and close not done in ${OP_TIMEOUT_MS} ms`); ws.terminate(); });
  const ws = new WebSocket(wsUrl, { origin: S.origin, handshakeTimeout: OP_TIMEOUT_MS, perMessageDeflate: false });
  const p = payload();
  let echoed = false;
  ws.on('open', () => ws.send(p.data, { binary: p.binary }));
  ws.on('message', (data, isBinary) => {
    echoed = sameMessage(p, data, isBinary);
    ws.close(1000, 'churn');
  });
  ws.on('error', (e) => done(() => error('ws_churn', e.message)));
  ws.on('close', (code) => done(() => {
    if (echoed && code === 1000) stats.ws_churn.done++;
    else error('ws_churn', `echoed ${echoed}, closed with ${code}`);
  }));
}

for (let i = 0; i < S.ws.conns; i++) setTimeout(() => openPersistent(i), i * 20);
pace('ws_echo', S.ws.rate, S.ws.conns * 8, wsSend);
pace('ws_churn', S.ws.churnRate, 20, wsChurn);

// ---------------------------------------------------------------- Socket.IO (hosted realtime mode)
const sioClients = [];
let broadcastsExpected = 0;
let shoutSeq = 0;

function sioOptions(transport, auth) {
  return { transports: [transport], forceNew: true, reconnection: false, timeout: OP_TIMEOUT_MS,
    extraHeaders: { origin: S.origin }, auth };
}

function openSio(slot, transport) {
  const s = io(S.edge, sioOptions(transport, {}));
  const c = { s, transport, connected: false, received: 0, closing: false };
  sioClients[slot] = c;
  s.on('connect', () => { c.connected = true; });
  s.on('connect_error', (e) => error('sio_ack', `client ${slot} (${transport}): connect_error ${e.message} ${JSON.stringify(e.data ?? null)}`));
  s.on('shout', () => { c.received++; });
  s.on('crossgate:error', (e) => error('sio_ack', `crossgate:error ${JSON.stringify(e)}`));
  s.on('disconnect', (reason) => {
    c.connected = false;
    if (!c.closing) error('sio_ack', `client ${slot} (${transport}) disconnected: ${reason}`);
  });
}

function connectedClients() {
  return sioClients.filter((c) => c && c.connected);
}

function sioEmit() {
  const cs = connectedClients();
  if (cs.length === 0) { stats.sio_ack.skipped++; return; }
  const c = cs[randomInt(cs.length)];
  const sent = { n: randomInt(1e9), pad: randomBytes(randomInt(8, 512)).toString('base64') };
  const done = withDeadline('sio_ack', () => error('sio_ack', `no ack in ${OP_TIMEOUT_MS} ms (${c.transport})`));
  c.s.emit('echo', sent, (got) => done(() => {
    if (got && got.n === sent.n && got.pad === sent.pad) stats.sio_ack.done++;
    else error('sio_ack', `ack ${JSON.stringify(got).slice(0, 100)} for ${sent.n}`);
  }));
}

function sioShout() {
  const cs = connectedClients();
  if (cs.length === 0) { stats.sio_shout.skipped++; return; }
  const c = cs[randomInt(cs.length)];
  const receivers = connectedClients().length;
  const done = withDeadline('sio_shout', () => error('sio_shout', `no ack for the shout in ${OP_TIMEOUT_MS} ms`));
  c.s.emit('shout', { seq: ++shoutSeq }, (ok) => done(() => {
    if (ok === true) { stats.sio_shout.done++; broadcastsExpected += receivers; }
    else error('sio_shout', `shout ack ${JSON.stringify(ok)}`);
  }));
}

function sioPublish() {
  const body = Buffer.from(JSON.stringify({ event: 'shout', args: [{ seq: `p${++shoutSeq}` }], rooms: ['soak'] }));
  const receivers = connectedClients().length;
  const done = withDeadline('sio_publish', () => { error('sio_publish', `no answer in ${OP_TIMEOUT_MS} ms`); req.destroy(); });
  const req = http.request({ host: '127.0.0.1', port: adminUrl.port, method: 'POST', path: '/realtime/publish', agent,
    headers: { authorization: `Bearer ${S.publishToken}`, 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
    const chunks = [];
    res.on('data', (x) => chunks.push(x));
    res.on('end', () => done(() => {
      let reached = -1;
      try { reached = JSON.parse(Buffer.concat(chunks).toString('utf8')).sockets; } catch { /* reported below */ }
      if (res.statusCode !== 200) { error('sio_publish', `status ${res.statusCode}`); return; }
      if (reached !== receivers) error('sio_publish', `reached ${reached} sockets, ${receivers} connected`);
      stats.sio_publish.done++;
      broadcastsExpected += reached;
    }));
  });
  req.on('error', (e) => done(() => error('sio_publish', e.message)));
  req.end(body);
}

function sioChurn() {
  const transport = Math.random() < 0.5 ? 'websocket' : 'polling';
  const s = io(S.edge, sioOptions(transport, { churn: true }));
  const done = withDeadline('sio_churn', () => { error('sio_churn', `connect, ack and disconnect not done in ${OP_TIMEOUT_MS} ms (${transport})`); s.close(); });
  s.on('connect_error', (e) => done(() => { error('sio_churn', `connect_error ${e.message}`); s.close(); }));
  s.on('connect', () => {
    s.emit('echo', { churn: 1 }, (got) => done(() => {
      if (got && got.churn === 1) stats.sio_churn.done++; else error('sio_churn', `ack ${JSON.stringify(got)}`);
      s.disconnect();
    }));
  });
}

const sioTransports = [...Array(S.sio.wsClients).fill('websocket'), ...Array(S.sio.pollingClients).fill('polling')];
sioTransports.forEach((t, i) => setTimeout(() => openSio(i, t), 500 + i * 30));
// The broadcasts start once every persistent client had time to connect (each must receive every one).
setTimeout(() => {
  if (connectedClients().length !== sioTransports.length) {
    error('sio_delivered', `${connectedClients().length} of ${sioTransports.length} Socket.IO clients connected after 10 s`);
  }
  pace('sio_ack', S.sio.rate, 200, sioEmit);
  pace('sio_shout', S.sio.shoutRate, 20, sioShout);
  pace('sio_publish', S.sio.publishRate, 20, sioPublish);
  pace('sio_churn', S.sio.churnRate, 20, sioChurn);
}, 10_000);

// ---------------------------------------------------------------- progress and the end
function totals() {
  return Object.fromEntries(KINDS.map((k) => [k, { ...stats[k], p50ms: percentile(k, 0.5), p99ms: percentile(k, 0.99) }]));
}
const progress = setInterval(() => {
  const t = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`load: t=${t}s ${KINDS.map((k) => `${k}=${stats[k].done}/${stats[k].errors}e`).join(' ')}\n`);
}, 10_000);

const hardStop = setTimeout(() => {
  process.stdout.write(JSON.stringify({ finished: false, seconds: S.seconds, stats: totals(), errorSamples }) + '\n');
  process.exit(1);
}, (S.seconds + 90) * 1000);
hardStop.unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
while (!stopping) await sleep(200);
clearInterval(ticker);
// Let what is in flight finish (each operation has its own deadline), then the last broadcasts arrive.
for (let i = 0; i < 150 && KINDS.some((k) => inflight[k] > 0); i++) await sleep(100);
await sleep(2_000);
const received = sioClients.reduce((n, c) => n + (c ? c.received : 0), 0);
stats.sio_delivered.done = received;
if (received !== broadcastsExpected) {
  error('sio_delivered', `${received} broadcast deliveries, ${broadcastsExpected} expected`);
}
// Orderly closes: a WebSocket closed with 1000 must see 1000 back; Socket.IO clients disconnect.
await Promise.all(wsConns.filter((c) => c && c.open).map((c) => new Promise((resolve) => {
  c.closing = true;
  const t = setTimeout(() => { error('ws_echo', 'no Close answered in 5 s'); c.ws.terminate(); resolve(); }, 5_000);
  c.closed = (code) => { clearTimeout(t); if (code !== 1000) error('ws_echo', `closed with ${code}`); resolve(); };
  c.ws.close(1000, 'soak over');
})));
for (const c of sioClients) {
  if (!c) continue;
  c.closing = true;
  c.s.disconnect();
}
clearInterval(progress);
agent.destroy();
process.stdout.write(JSON.stringify({ finished: true, seconds: S.seconds, elapsedMs: Date.now() - started,
  broadcastsExpected, stats: totals(), errorSamples }) + '\n');
await sleep(300);
process.exit(0);
