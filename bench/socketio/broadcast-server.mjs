// The peer of bench/socketio-broadcast.sh: the Node.js reference Socket.IO server (npm socket.io), WebSocket
// only, no compression. Receivers connect to the main namespace "/" and do nothing; the driver connects to
// "/driver" and emits "burst" {n, size}: the server then broadcasts n events "m" with a string of size
// characters to every socket of "/" (io.emit, one after the other in the same turn).
//   node broadcast-server.mjs PORT      (127.0.0.1 only)
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
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
