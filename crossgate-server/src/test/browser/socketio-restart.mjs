// Reconnection after a server restart with the official JavaScript client: the client connects
// (default transports, so polling then the upgrade to WebSocket), proves an emit+ack works, and
// prints {"event":"ready"}. The Java test (JsClientInteropTest) then closes the server and starts a
// new one on the same port; the client's Manager reconnects on its own, gets a new id, and does an
// emit+ack on the new server. Every event is one JSON line on stdout, as it happens:
//   connect, welcome, ack, ready, disconnect, reconnect_attempt, reconnect_error, reconnect, done,
//   and error (then the script stops).
// The test writes "close" on stdin when it has checked the server's side; the client then
// disconnects and the script exits. It exits too when stdin ends, or after 30 s at most.
//   node socketio-restart.mjs http://127.0.0.1:PORT
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const url = process.argv[2];
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error("usage: node socketio-restart.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const report = (o) => console.log(JSON.stringify(o));
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms))]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
setTimeout(() => { report({ event: "error", error: "timeout after 30 s" }); process.exit(0); }, 30_000).unref();

let socket;
const closeRequested = new Promise((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (l) => l.trim() === "close" && resolve("close"));
  rl.on("close", () => resolve("eof"));
});

// Every "connect" of the socket, in order; the test resolves the n-th one.
const connects = [];
const waiters = [];
function nthConnect(n) {
  return connects.length > n ? Promise.resolve(connects[n]) : new Promise((r) => (waiters[n] = r));
}
const welcomes = [];
const welcomeWaiters = [];
function nthWelcome(n) {
  return welcomes.length > n ? Promise.resolve(welcomes[n]) : new Promise((r) => (welcomeWaiters[n] = r));
}

async function echo(phase) {
  const args = await withTimeout(new Promise((r) => socket.emit("echo", phase, { n: phase.length }, (...a) => r(a))), 5000, "ack " + phase);
  report({ event: "ack", phase, args, id: socket.id });
}

try {
  socket = io(url, {
    forceNew: true,
    auth: { token: "abc" },
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 5000,
  });
  socket.on("connect", () => {
    // socket.recovered is undefined (not false) when the server offered no session to recover.
    const c = { event: "connect", id: socket.id, recovered: Boolean(socket.recovered), transport: socket.io.engine.transport.name };
    report(c);
    connects.push(c);
    waiters[connects.length - 1]?.(c);
  });
  socket.on("welcome", (token, id) => {
    const w = { event: "welcome", token, id };
    report(w);
    welcomes.push(w);
    welcomeWaiters[welcomes.length - 1]?.(w);
  });
  socket.on("disconnect", (reason, details) =>
    report({ event: "disconnect", reason, description: details?.description?.message ?? details?.description ?? null, active: socket.active }));
  socket.on("connect_error", (e) => report({ event: "connect_error", message: e.message }));
  socket.io.on("reconnect_attempt", (n) => report({ event: "reconnect_attempt", attempt: n }));
  socket.io.on("reconnect_error", (e) => report({ event: "reconnect_error", message: e.message }));
  socket.io.on("reconnect_failed", () => report({ event: "reconnect_failed" }));
  socket.io.on("reconnect", (n) => report({ event: "reconnect", attempt: n }));

  // The first server.
  await withTimeout(nthConnect(0), 5000, "first connect");
  await withTimeout(nthWelcome(0), 5000, "first welcome");
  // Wait for the upgrade, so that the restart always finds the client on WebSocket.
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") {
    await withTimeout(new Promise((r) => engine.once("upgrade", r)), 5000, "upgrade");
  }
  await echo("before");
  report({ event: "ready", id: socket.id, transport: engine.transport.name });

  // The Java test restarts the server; the Manager reconnects by itself.
  await withTimeout(nthConnect(1), 15_000, "reconnect");
  await withTimeout(nthWelcome(1), 5000, "second welcome");
  await echo("after");
  report({ event: "done", id: socket.id, transport: socket.io.engine.transport.name });

  const why = await closeRequested;
  await sleep(50);
  socket.disconnect();
  await sleep(200); // lets the DISCONNECT packet leave before the process ends
  report({ event: "closed", why });
} catch (e) {
  report({ event: "error", error: String(e && e.stack || e) });
  socket?.close();
}
process.exit(0);
