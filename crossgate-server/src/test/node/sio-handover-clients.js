// Clients of the issue-12 handover test: official socket.io-client 4.8 clients, WebSocket only, that connect to node A
// and, when their connection drops, reconnect to node B (as a load balancer in front of the two would send them), with
// connection state recovery (the client sends its pid and last offset by itself).
//   NODE_PATH=test-peers/node_modules node sio-handover-clients.js URL_A URL_B COUNT ROOM
// stdout, JSON lines: {"connected": i, "id", "recovered"} on every connect; {"tick": i, "seq", "binary": bool} per
// event "tick" received (args [seq] or [seq, <Buffer of seq as text>]); {"ready": COUNT} once all are connected.
const { io } = require('socket.io-client');

const [urlA, urlB, count, room] = [process.argv[2], process.argv[3], Number(process.argv[4]), process.argv[5]];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let ready = 0;
for (let i = 0; i < count; i++) {
  const socket = io(urlA, {
    transports: ['websocket'],
    auth: { rooms: [room] },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
  });
  // The next connection goes to node B (Manager.open builds its engine from manager.uri).
  socket.io.on('reconnect_attempt', () => {
    socket.io.uri = urlB;
  });
  let first = true;
  socket.on('connect', () => {
    out({ connected: i, id: socket.id, recovered: socket.recovered });
    if (first) {
      first = false;
      if (++ready === count) {
        out({ ready: count });
      }
    }
  });
  socket.on('tick', (seq, bin) => {
    const binary = Buffer.isBuffer(bin);
    if (binary && bin.toString('utf8') !== String(seq)) {
      out({ tick: i, seq, binary, corrupt: bin.toString('utf8') });
      return;
    }
    out({ tick: i, seq, binary });
  });
  socket.on('connect_error', (e) => out({ connectError: i, message: e.message }));
}
