// Official socket.io-client 4.8 clients of the issue-12 cluster tests (in Node: no cookies, no Origin), driven by
// JSON lines on stdin.
//   NODE_PATH=test-peers/node_modules node sio-cluster-clients.js
//
// stdin ops: {id, op: 'connect', client, url, name, rooms, transports} (auth {name, rooms}, reconnection on; answers
// {sid} once connected, or ok:false on the first connect_error), {id, op: 'close', client}, {id, op: 'emit', client,
// event, args, ack} (ack: a timeout in ms: waits for the server's ack and answers with its arguments).
// stdout: answers {id, ok, result | error}; and one line per event any client receives, {client, event, args}
// (binary as {"$bin": base64}, recursively), {client, event: 'connect', sid}, {client, event: 'disconnect', reason},
// {client, event: 'connect_error', error}. An event that asks for an ack is answered with ({client}).
const readline = require('readline');
const { io } = require('socket.io-client');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
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
  if (v instanceof Error) return { error: v.message };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const clients = new Map();

const ops = {
  connect: (c) =>
    new Promise((resolve, reject) => {
      if (!/^https?:\/\/127\.0\.0\.1:\d+/.test(c.url || '')) throw new Error(`url must be on loopback: ${c.url}`);
      if (clients.has(c.client)) throw new Error(`client ${c.client} exists`);
      const s = io(c.url, {
        forceNew: true,
        auth: { name: c.name, rooms: c.rooms || [] },
        transports: c.transports || ['polling', 'websocket'],
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 1000,
        timeout: 5000,
      });
      clients.set(c.client, s);
      let answered = false;
      const timer = setTimeout(() => {
        if (!answered) {
          answered = true;
          reject(new Error(`client ${c.client}: not connected to ${c.url} within 10 s`));
        }
      }, 10000);
      s.on('connect', () => {
        out({ client: c.client, event: 'connect', sid: s.id, transport: s.io.engine.transport.name });
        if (!answered) {
          answered = true;
          clearTimeout(timer);
          resolve({ sid: s.id });
        }
      });
      s.on('connect_error', (e) => {
        out({ client: c.client, event: 'connect_error', error: e.message });
        if (!answered && !s.active) {
          // refused by a middleware: socket.io-client does not retry that
          answered = true;
          clearTimeout(timer);
          reject(new Error(`client ${c.client}: ${e.message}`));
        }
      });
      s.on('disconnect', (reason) => out({ client: c.client, event: 'disconnect', reason }));
      s.onAny((event, ...args) => {
        const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
        out({ client: c.client, event, args: encode(args) });
        if (cb) cb({ client: c.client });
      });
    }),
  close: (c) => {
    const s = clients.get(c.client);
    if (!s) throw new Error(`no client ${c.client}`);
    s.close();
    clients.delete(c.client);
    return null;
  },
  emit: async (c) => {
    const s = clients.get(c.client);
    if (!s) throw new Error(`no client ${c.client}`);
    const args = decode(c.args || []);
    if (c.ack) return encode(await s.timeout(c.ack).emitWithAck(c.event, ...args));
    s.emit(c.event, ...args);
    return null;
  },
};

serve(ops, () => {
  for (const s of clients.values()) s.close();
});
out({ ready: true });

// Answers the ops read from stdin, one JSON line each; ends when stdin closes (the test closed it, or died) and
// every op under way has answered.
function serve(ops, onClose) {
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
    onClose();
    maybeExit();
  });
}

