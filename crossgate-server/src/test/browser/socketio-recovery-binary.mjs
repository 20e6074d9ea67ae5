// Connection state recovery of binary events and direct emits, with the official JavaScript client: A connects,
// joins "ticks", gets one direct emit (which must carry an offset), loses its transport, misses COUNT binary
// broadcasts (asked for by B), reconnects, and reports what it got.
//   node socketio-recovery-binary.mjs http://127.0.0.1:PORT COUNT
import { io } from "socket.io-client";

const url = process.argv[2];
const count = Number(process.argv[3] || 35);
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url) || !(count > 0 && count <= 1000)) {
  console.error("usage: node socketio-recovery-binary.mjs http://127.0.0.1:PORT COUNT(1-1000)");
  process.exit(2);
}
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms))]);
const until = async (cond, ms, what) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timeout: " + what);
    await new Promise((r) => setTimeout(r, 20));
  }
};
setTimeout(() => { console.log(JSON.stringify({ error: "timeout after 30 s" })); process.exit(0); }, 30_000).unref();

const result = {};
try {
  const a = io(url, { transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 200, forceNew: true });
  const binary = [];
  const direct = [];
  a.on("bin", (buf) => binary.push([...new Uint8Array(buf)]));
  a.on("direct", (n) => direct.push(n));
  await withTimeout(new Promise((r) => a.once("connect", r)), 5000, "a connect");
  const firstId = a.id;
  await withTimeout(a.emitWithAck("join", "ticks"), 5000, "join");
  await withTimeout(a.emitWithAck("direct-me"), 5000, "direct-me");
  await until(() => direct.length === 1, 5000, "the direct emit");
  result.offsetAfterDirect = typeof a._lastOffset === "string" && a._lastOffset.length > 0;
  const b = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await withTimeout(new Promise((r) => b.once("connect", r)), 5000, "b connect");
  const reconnected = new Promise((r) => a.once("connect", r));
  a.io.engine.close(); // the transport drops, as on a flaky mobile network
  await until(() => !a.connected, 5000, "a disconnected");
  await withTimeout(b.emitWithAck("burst", count), 5000, "burst");
  await withTimeout(reconnected, 5000, "a reconnect");
  await until(() => binary.length >= count, 5000, "the missed binary events");
  result.binary = binary;
  result.direct = direct;
  result.recovered = a.recovered;
  result.sameId = a.id === firstId;
  a.close();
  b.close();
} catch (e) {
  result.error = String(e && e.stack || e);
}
console.log(JSON.stringify(result));
process.exit(0);
