// Connection state recovery with the official JavaScript client: A connects, hears broadcast 1, loses
// its transport, misses broadcast 2 (asked for by B), reconnects, and reports what it got.
//   node socketio-recovery.mjs http://127.0.0.1:PORT
import { io } from "socket.io-client";

const url = process.argv[2];
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error("usage: node socketio-recovery.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms))]);
setTimeout(() => { console.log(JSON.stringify({ error: "timeout after 30 s" })); process.exit(0); }, 30_000).unref();

const result = {};
try {
  const a = io(url, { transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 200, forceNew: true });
  const got = [];
  a.on("tick", (n) => got.push(n));
  await withTimeout(new Promise((r) => a.once("connect", r)), 5000, "a connect");
  const firstId = a.id;
  await withTimeout(a.emitWithAck("join", "ticks"), 5000, "join");
  const b = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await withTimeout(new Promise((r) => b.once("connect", r)), 5000, "b connect");
  await withTimeout(b.emitWithAck("tick", 1), 5000, "tick 1");
  await sleep(200);
  const reconnected = new Promise((r) => a.once("connect", r));
  a.io.engine.close(); // the transport drops, as on a flaky mobile network
  await sleep(200);
  await withTimeout(b.emitWithAck("tick", 2), 5000, "tick 2");
  await withTimeout(reconnected, 5000, "a reconnect");
  await sleep(300);
  result.got = got;
  result.recovered = a.recovered;
  result.sameId = a.id === firstId;
  a.close();
  b.close();
} catch (e) {
  result.error = String(e && e.stack || e);
}
console.log(JSON.stringify(result));
process.exit(0);
