// Drives the official JavaScript socket.io-client (npm) against a Socket.IO server and prints one JSON
// object with what each scenario observed. The server side is the Java test that starts it
// (JsClientInteropTest); it only ever targets 127.0.0.1.
//   node socketio-interop.mjs http://127.0.0.1:PORT
import { io } from "socket.io-client";

const url = process.argv[2];
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error("usage: node socketio-interop.mjs http://127.0.0.1:PORT");
  process.exit(2);
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms))]);

function connect(opts, setup = () => {}) {
  const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  setup(s); // listeners for what the server sends right after the connection
  return withTimeout(new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => reject(e));
  }), 5000, "connect");
}

async function emitAndAck(transports) {
  let welcomed;
  const welcome = new Promise((r) => (welcomed = r));
  const s = await connect({ transports, auth: { token: "abc" } }, (s) => s.once("welcome", welcomed));
  const welcomeToken = await withTimeout(welcome, 5000, "welcome");
  // The callback form: every argument of the ack (emitWithAck resolves with the first one only).
  const echoed = await withTimeout(new Promise((r) => s.emit("echo", "hello", 42, { k: true }, (...args) => r(args))), 5000, "ack");
  // The server asks and the client acks.
  s.on("question", (q, ack) => ack("answer to " + q));
  const answer = await withTimeout(s.emitWithAck("ask-me", "life"), 5000, "server ack");
  await new Promise((r) => setTimeout(r, 300));
  const transport = s.io.engine.transport.name;
  s.disconnect();
  return { welcome: welcomeToken, echoed, answer, transport };
}

async function binary() {
  const s = await connect({ transports: ["websocket"], auth: { token: "abc" } });
  const back = new Promise((r) => s.once("bytes-back", r));
  s.emit("bytes", new Uint8Array([1, 2, 3, 255]));
  const b = await withTimeout(back, 5000, "bytes-back");
  s.disconnect();
  return Array.from(new Uint8Array(b));
}

async function roomExcept() {
  const sockets = [];
  const got = [[], [], []];
  for (let i = 0; i < 3; i++) {
    const s = await connect({ transports: ["websocket"], auth: { token: "u" + i } });
    s.on("news", (m) => got[i].push(m));
    sockets.push(s);
  }
  await withTimeout(sockets[0].emitWithAck("join", "room-a"), 5000, "join 0");
  await withTimeout(sockets[1].emitWithAck("join", "room-a"), 5000, "join 1");
  // u0 asks the server to broadcast to room-a except itself; u2 is not in the room.
  await withTimeout(sockets[0].emitWithAck("broadcast-except-me", "room-a", "hi room"), 5000, "broadcast");
  await new Promise((r) => setTimeout(r, 300));
  sockets.forEach((s) => s.disconnect());
  return got;
}

async function connectError() {
  try {
    await connect({ transports: ["websocket"], auth: { token: "expired" } });
    return { connected: true };
  } catch (e) {
    return { message: e.message, data: e.data };
  }
}

const result = {};
try {
  result.websocket = await emitAndAck(["websocket"]);
  result.polling = await emitAndAck(["polling"]);
  result.upgrade = await emitAndAck(["polling", "websocket"]);
  result.binary = await binary();
  result.roomExcept = await roomExcept();
  result.connectError = await connectError();
} catch (e) {
  result.error = String(e && e.stack || e);
}
console.log(JSON.stringify(result));
process.exit(0);
