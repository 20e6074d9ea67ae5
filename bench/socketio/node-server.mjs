// The peer: the Node.js reference Socket.IO server (npm socket.io), WebSocket only, no compression.
//   node --expose-gc node-server.mjs PORT      (127.0.0.1 only; GET /gc runs the garbage collector)
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  if (req.url === "/gc" && global.gc) {
    global.gc();
    res.end("ok");
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
io.on("connection", () => {});
server.listen(port, "127.0.0.1", () => console.log("READY " + port));
setTimeout(() => process.exit(0), 30 * 60 * 1000).unref(); // bounded: 30 minutes at most
