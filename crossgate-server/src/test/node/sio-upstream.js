// A Node.js socket.io 4.8 server, one upstream of Crossgate's affinity tests. Prints one JSON line per HTTP
// request and upgrade it receives ({"name", "sid", "transport", "method"}) and {"listening": port} once ready.
//   NODE_PATH=test-peers/node_modules node sio-upstream.js NAME PORT
const http = require('http');
const { Server } = require('socket.io');

const [name, port] = [process.argv[2], Number(process.argv[3])];
const httpServer = http.createServer();
const log = (req) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname.startsWith('/socket.io/')) {
    console.log(JSON.stringify({ name, sid: u.searchParams.get('sid'), transport: u.searchParams.get('transport'), method: req.method }));
  }
};
const io = new Server(httpServer, { pingInterval: 2000, pingTimeout: 2000 });
// After the Server: engine.io's attach takes the 'request' listeners over (and calls them only off its path).
httpServer.prependListener('request', log);
httpServer.prependListener('upgrade', log);
io.on('connection', (socket) => {
  socket.on('whoami', (ack) => ack(name));
});
httpServer.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ listening: port })));
