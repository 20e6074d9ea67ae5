// A Node.js socket.io 4.8 node of the issue-12 cluster tests: the official @socket.io/redis-adapter 8.3 (classic or
// sharded) on node-redis v4, on 127.0.0.1:PORT, driven by JSON lines on stdin.
//   NODE_PATH=test-peers/node_modules [KEY=socket.io] node sio-cluster-node.js NAME PORT REDIS_URL classic|sharded
//
// Clients connecting with auth {name, rooms: [...]} join those rooms; socket.data = {name, node: NAME}; each client
// socket answers 'ping' with the ack ({name}). Server side, io.on('who', (arg, cb)) answers {node: NAME, arg} (the
// target of serverSideEmit, with and without ack); every serverSideEmit event received is recorded (op 'received').
//
// stdin: one JSON object a line {id, op, ...}; stdout: one answer a line {id, ok: true, result} or {id, ok: false,
// error}. Binary values travel as {"$bin": "<base64>"} both ways (recursively, in args and results).
// Ops: broadcast {rooms, except, event, args, flags: {volatile, local, compress}}, broadcastWithAck {rooms, except,
// event, args, timeout}, fetchSockets {rooms, except}, socketsJoin / socketsLeave {rooms, except, room},
// disconnectSockets {rooms, except, close}, serverSideEmit {event, args}, serverSideEmitWithAck {event, args,
// timeout}, allRooms, received, settle (waits until every SSUBSCRIBE the sharded adapter issued is confirmed).
// {"listening": PORT, "node": NAME, "uid": adapter uid} is printed once the adapter's subscriptions are confirmed.
const http = require('http');
const readline = require('readline');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter');

const [name, port, redisUrl, mode] = [process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5] || 'classic'];
const key = process.env.KEY || 'socket.io';
if (!name || !(port > 0) || !/^rediss?:\/\//.test(redisUrl || '') || !['classic', 'sharded'].includes(mode)) {
  console.error('usage: node sio-cluster-node.js NAME PORT redis://HOST:PORT classic|sharded (env KEY, default socket.io)');
  process.exit(2);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (what, e) => {
  console.error(`sio-cluster-node ${name}: ${what}: ${e && e.message ? e.message : e}`);
  process.exit(1);
};

// {"$bin": base64} <-> Buffer, recursively (the JSON lines carry binary this way).
const decode = (v) => {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    if (typeof v.$bin === 'string' && Object.keys(v).length === 1) return Buffer.from(v.$bin, 'base64');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
};
const encode = (v) => {
  if (Buffer.isBuffer(v)) return { $bin: v.toString('base64') };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('base64') };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (v instanceof Set) return [...v].map(encode);
  if (v instanceof Error) return { error: v.message };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
pub.on('error', (e) => console.error(`sio-cluster-node ${name}: redis pub: ${e.message}`));
sub.on('error', (e) => console.error(`sio-cluster-node ${name}: redis sub: ${e.message}`));

// The sharded adapter subscribes to a room's channel when the room is created ("dynamic" subscription mode) without
// waiting for Redis to confirm it; a broadcast published before the confirmation is lost. Every SSUBSCRIBE is
// tracked so that a client's connection (and the op 'settle') can wait for its confirmation.
const pending = new Set();
const track = (p) => {
  if (p && typeof p.then === 'function') {
    pending.add(p);
    p.catch(() => {}).finally(() => pending.delete(p));
  }
  return p;
};
const settle = async () => {
  while (pending.size > 0) await Promise.allSettled([...pending]);
};
for (const m of ['sSubscribe', 'subscribe', 'pSubscribe']) {
  const orig = sub[m].bind(sub);
  sub[m] = (...a) => track(orig(...a));
}

const received = [];

async function main() {
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: mode === 'classic' ? createAdapter(pub, sub, { key }) : createShardedAdapter(pub, sub, { channelPrefix: key }),
  });
  const nsp = io.of('/');
  const adapter = nsp.adapter;

  // Records every event another server sent with serverSideEmit (the ack callback, when there is one, is last).
  const onServerSideEmit = nsp._onServerSideEmit.bind(nsp);
  nsp._onServerSideEmit = (args) => {
    received.push({ event: args[0], args: encode(args.slice(1).filter((a) => typeof a !== 'function')) });
    return onServerSideEmit(args);
  };
  io.on('who', (arg, cb) => {
    if (typeof cb === 'function') cb({ node: name, arg });
  });

  io.use(async (socket, next) => {
    const auth = socket.handshake.auth || {};
    socket.data = { name: auth.name, node: name };
    const rooms = Array.isArray(auth.rooms) ? auth.rooms.filter((r) => typeof r === 'string') : [];
    if (rooms.length) socket.join(rooms);
    await settle(); // the rooms' channels are subscribed before the client sees 'connect' (sharded, dynamic mode)
    next();
  });
  io.on('connection', (socket) => {
    socket.on('ping', (...args) => {
      const cb = args[args.length - 1];
      if (typeof cb === 'function') cb({ name: socket.data.name });
    });
  });

  const target = (c, base = nsp) => {
    let t = base;
    if (Array.isArray(c.rooms) && c.rooms.length) t = t.to(c.rooms);
    if (Array.isArray(c.except) && c.except.length) t = t.except(c.except);
    return t;
  };
  const withTimeout = (p, ms, what) =>
    Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms).unref())]);

  const ops = {
    broadcast: (c) => {
      let t = target(c);
      const f = c.flags || {};
      if (f.volatile) t = t.volatile;
      if (f.local) t = t.local;
      if (f.compress !== undefined) t = t.compress(!!f.compress);
      t.emit(c.event, ...decode(c.args || []));
      return null;
    },
    broadcastWithAck: (c) =>
      new Promise((resolve, reject) => {
        target(c).timeout(c.timeout || 5000).emit(c.event, ...decode(c.args || []), (err, responses) => {
          if (err) reject(new Error(`${err.message} (${(responses || []).length} acks: ${JSON.stringify(encode(responses || []))})`));
          else resolve(encode(responses));
        });
      }),
    fetchSockets: async (c) => (await target(c).fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms], data: encode(s.data) })),
    socketsJoin: (c) => (target(c).socketsJoin(c.room), null),
    socketsLeave: (c) => (target(c).socketsLeave(c.room), null),
    disconnectSockets: (c) => (target(c).disconnectSockets(!!c.close), null),
    serverSideEmit: (c) => (nsp.serverSideEmit(c.event, ...decode(c.args || [])), null),
    serverSideEmitWithAck: async (c) => {
      const t = c.timeout || 5000;
      if ('requestsTimeout' in adapter) adapter.requestsTimeout = t; // classic adapter: its own request deadline
      return encode(await withTimeout(nsp.serverSideEmitWithAck(c.event, ...decode(c.args || [])), t + 1000, 'serverSideEmitWithAck'));
    },
    // The sharded adapter (socket.io-adapter's ClusterAdapter) has no allRooms: said so, not answered with a guess.
    allRooms: async () => {
      if (typeof adapter.allRooms !== 'function') throw new Error(`allRooms: not implemented by the ${mode} adapter`);
      return [...(await adapter.allRooms())];
    },
    received: () => received,
    settle: async () => (await settle(), null),
  };

  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '127.0.0.1', resolve);
  });

  // Ready only when this node's own subscriptions are confirmed by Redis: its uid-specific channel is node-specific,
  // so a count >= 1 is this node's (classic: SUBSCRIBE <key>-response#/#<uid>#; sharded: SSUBSCRIBE <key>#/#<uid>#).
  await settle();
  const own = mode === 'classic' ? `${key}-response#/#${adapter.uid}#` : `${key}#/#${adapter.uid}#`;
  const end = Date.now() + 10000;
  for (;;) {
    const reply = await pub.sendCommand(['PUBSUB', mode === 'classic' ? 'NUMSUB' : 'SHARDNUMSUB', own]);
    if (Number(reply[1]) >= 1) break;
    if (Date.now() > end) throw new Error(`the adapter's subscription to ${own} was not confirmed within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  out({ listening: port, node: name, uid: adapter.uid });
  serve(ops);
}

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

main().catch((e) => fail('start', e));
