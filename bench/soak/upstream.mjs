// The soak benchmark's upstream, on 127.0.0.1 only: the application backend behind Crossgate.
//
//   node upstream.mjs PORT
//
//   GET  /api/hello             200, a small JSON document
//   POST /api/echo              200, the request body back (same length, same bytes)
//   GET  /ws                    WebSocket echo (text and binary, as received)
//   POST /realtime/connect      the connect hook: {"user", "rooms": ["soak"]}; a client whose auth says
//                               {"churn": true} joins no room (it must not count as a broadcast receiver)
//   POST /realtime/event        the event hook: "echo" acks its args; "shout" acks and emits "shout" with its
//                               args to the room "soak"
//   POST /realtime/disconnect   the disconnect hook: 200 {}
// Anything else: 404. Prints "LISTENING" once it listens; counts what it served on SIGTERM (stderr).
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
if (!(port > 0)) {
  console.error('usage: node upstream.mjs PORT');
  process.exit(2);
}
const counts = { hello: 0, echo: 0, wsMessages: 0, wsConnections: 0, connectHook: 0, eventHook: 0, disconnectHook: 0, notFound: 0 };
let users = 0;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) { reject(new Error('body over 1 MB')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res, status, doc) {
  const b = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}

const server = http.createServer(async (req, res) => {
  try {
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path === '/api/hello') {
      counts.hello++;
      json(res, 200, { hello: 'soak', n: counts.hello });
    } else if (req.method === 'POST' && path === '/api/echo') {
      const body = await readBody(req);
      counts.echo++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } else if (req.method === 'POST' && path === '/realtime/connect') {
      const call = JSON.parse((await readBody(req)).toString('utf8'));
      counts.connectHook++;
      const churn = call?.auth?.churn === true;
      json(res, 200, churn ? { user: `churn-${++users}`, rooms: [] } : { user: `user-${++users}`, rooms: ['soak'] });
    } else if (req.method === 'POST' && path === '/realtime/event') {
      const call = JSON.parse((await readBody(req)).toString('utf8'));
      counts.eventHook++;
      if (call.event === 'shout') {
        json(res, 200, { ack: [true], emit: [{ event: 'shout', args: call.args, rooms: ['soak'] }] });
      } else {
        json(res, 200, { ack: call.args });
      }
    } else if (req.method === 'POST' && path === '/realtime/disconnect') {
      await readBody(req);
      counts.disconnectHook++;
      json(res, 200, {});
    } else {
      await readBody(req);
      counts.notFound++;
      json(res, 404, { error: 'not found' });
    }
  } catch (e) {
    if (!res.headersSent) json(res, 500, { error: String(e.message) });
  }
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
server.on('upgrade', (req, socket, head) => {
  if (req.url.split('?')[0] !== '/ws') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    counts.wsConnections++;
    ws.on('message', (data, isBinary) => {
      counts.wsMessages++;
      ws.send(data, { binary: isBinary });
    });
    ws.on('error', () => {});
  });
});

process.on('SIGTERM', () => {
  process.stderr.write(`upstream: ${JSON.stringify(counts)}\n`);
  server.close();
  for (const c of wss.clients) c.terminate();
  setTimeout(() => process.exit(0), 200).unref();
});

server.listen(port, '127.0.0.1', () => console.log('LISTENING'));
