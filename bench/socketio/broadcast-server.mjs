// The peer of bench/socketio-broadcast.sh: the Node.js reference Socket.IO server (npm socket.io), WebSocket
// only, no compression. Receivers connect to the main namespace "/" and do nothing; the driver connects to
// "/driver" and emits "burst" {n, size}: the server then broadcasts n events "m" with a string of size
// characters to every socket of "/" (io.emit, one after the other in the same turn).
//   node broadcast-server.mjs PORT [REDIS_URL]      (127.0.0.1 only)
// With REDIS_URL (redis://127.0.0.1:PORT) it is a cluster node of bench/socketio-cluster.sh: the official
// @socket.io/redis-adapter (classic createAdapter, its defaults: key "socket.io") on two node-redis clients, so
// io.emit on one node also reaches the receivers of the other nodes through Redis. It prints READY only once both
// clients are connected.
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const redisUrl = process.argv[3];
if (redisUrl !== undefined && !/^redis:\/\/127\.0\.0\.1:\d+$/.test(redisUrl)) {
  console.error("REDIS_URL: only redis://127.0.0.1:PORT");
  process.exit(2);
}
const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
const cluster = {};
if (redisUrl !== undefined) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error("redis: " + e.message));
  await Promise.all([pub.connect(), sub.connect()]);
  cluster.adapter = createAdapter(pub, sub); // the adapter of every namespace, "/" and "/driver" included
}
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false, ...cluster });
io.on("connection", () => {});
const payloads = new Map();
io.of("/driver").on("connection", (driver) => {
  driver.on("burst", (a) => {
    const n = Number(a?.n);
    const size = Number(a?.size);
    if (!Number.isInteger(n) || n < 1 || n > 10000 || !Number.isInteger(size) || size < 0 || size > 1000000) {
      driver.disconnect(true); // a harness bug: the harness sees the disconnect and fails
      return;
    }
    let payload = payloads.get(size);
    if (payload === undefined) {
      payload = "x".repeat(size);
      payloads.set(size, payload);
    }
    for (let i = 0; i < n; i++) {
      io.emit("m", payload);
    }
  });
});
server.listen(port, "127.0.0.1", () => console.log("READY " + port));
setTimeout(() => process.exit(0), 30 * 60 * 1000).unref(); // bounded: 30 minutes at most
