// The official @socket.io/redis-emitter 5.1 (a backend publishing to a Socket.IO cluster without being part of it),
// driven by JSON lines on stdin. It speaks the classic adapter's channels (PUBLISH), not the sharded adapter's.
//   NODE_PATH=test-peers/node_modules [KEY=socket.io] node sio-emitter.js redis://127.0.0.1:PORT
//
// stdin ops: emit {nsp, rooms, except, event, args, flags: {volatile, compress}}, socketsJoin / socketsLeave {nsp,
// rooms, except, room}, disconnectSockets {nsp, rooms, except, close}, serverSideEmit {nsp, event, args}; binary
// args as {"$bin": base64}, recursively. stdout: {id, ok: true, result: null} or {id, ok: false, error}, and
// {"ready": true} once connected to Redis. Each answer follows its PUBLISH (node-redis keeps a connection's commands
// in order, so a later PING's reply means the PUBLISH was applied).
const readline = require('readline');
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');

const redisUrl = process.argv[2];
const key = process.env.KEY || 'socket.io';
if (!/^rediss?:\/\//.test(redisUrl || '')) {
  console.error('usage: node sio-emitter.js redis://HOST:PORT (env KEY, default socket.io)');
  process.exit(2);
}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const decode = (v) => {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    if (typeof v.$bin === 'string' && Object.keys(v).length === 1) return Buffer.from(v.$bin, 'base64');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
};

const client = createClient({ url: redisUrl });
client.on('error', (e) => console.error(`sio-emitter: redis: ${e.message}`));

// Answers the ops read from stdin, one JSON line each; ends when stdin closes (the test closed it, or died) and
// every op under way has answered.
function serve(ops) {
  const rl = readline.createInterface({ input: process.stdin });
  let inFlight = 0;
  let closed = false;
  const maybeExit = () => closed && inFlight === 0 && process.exit(0);
  rl.on('line', async (line) => {
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      out({ ok: false, error: `not JSON: ${line.slice(0, 80)}` });
      return;
    }
    const op = ops[c.op];
    if (!op) {
      out({ id: c.id, ok: false, error: `unknown op: ${c.op}` });
      return;
    }
    inFlight++;
    try {
      out({ id: c.id, ok: true, result: (await op(c)) ?? null });
    } catch (e) {
      out({ id: c.id, ok: false, error: String(e && e.message ? e.message : e) });
    } finally {
      inFlight--;
      maybeExit();
    }
  });
  rl.on('close', () => {
    closed = true;
    maybeExit();
  });
}

(async () => {
  await client.connect();
  const emitter = new Emitter(client, { key });
  const target = (c) => {
    let t = emitter.of(c.nsp || '/');
    if (Array.isArray(c.rooms) && c.rooms.length) t = t.to(c.rooms);
    if (Array.isArray(c.except) && c.except.length) t = t.except(c.except);
    return t;
  };
  const publish = (f) => async (c) => {
    f(c);
    await client.ping(); // after the PUBLISH on the same connection
    return null;
  };
  const ops = {
    emit: publish((c) => {
      let t = target(c);
      const f = c.flags || {};
      if (f.volatile) t = t.volatile;
      if (f.compress !== undefined) t = t.compress(!!f.compress);
      t.emit(c.event, ...decode(c.args || []));
    }),
    socketsJoin: publish((c) => target(c).socketsJoin(c.room)),
    socketsLeave: publish((c) => target(c).socketsLeave(c.room)),
    disconnectSockets: publish((c) => target(c).disconnectSockets(!!c.close)),
    serverSideEmit: publish((c) => emitter.of(c.nsp || '/').serverSideEmit(c.event, ...decode(c.args || []))),
  };
  serve(ops);
  out({ ready: true });
})().catch((e) => {
  console.error(`sio-emitter: start: ${e.message}`);
  process.exit(1);
});
