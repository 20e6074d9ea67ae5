// The official socket.io-client 4.8 in Node, as a native client: WebSocket only, no Origin header (Node sends none).
// Connects once, without reconnection, and prints one JSON line: {"ok": true, "transport", "id"} once connected
// (then disconnects), or {"ok": false, "error", "description"} from connect_error.
//   NODE_PATH=test-peers/node_modules node sio-native-client.js http://127.0.0.1:PORT
const { io } = require('socket.io-client');

const url = process.argv[2];
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error('usage: node sio-native-client.js http://127.0.0.1:PORT');
  process.exit(2);
}
const done = (line) => {
  console.log(JSON.stringify(line));
  process.exit(0);
};
setTimeout(() => done({ ok: false, error: 'timeout after 15 s' }), 15_000).unref();

const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, transports: ['websocket'] });
s.once('connect', () => {
  const line = { ok: true, transport: s.io.engine.transport.name, id: s.id };
  s.disconnect();
  done(line);
});
s.once('connect_error', (e) => {
  // engine.io-client: "websocket error", with the ws library's error ("Unexpected server response: 403") inside.
  const d = e.description;
  done({ ok: false, error: String(e.message || e), description: String((d && (d.message || (d.error && d.error.message))) || d || '') });
});
