// One Socket.IO session against Crossgate's hosted mode, the same code in Node and in a Chromium page (its
// source is passed to the page): connect with auth { name }, for mode "polling" (polling only), "websocket"
// (WebSocket only) or "upgrade" (polling first, then the upgrade to WebSocket); an emit with an ack through the
// event hook ("echo"); an event whose hook calls the publish API to emit "news" to this user ("publish-me"),
// and that news received; then a client disconnect. Returns what it saw.
export async function hostedSession(io, server, mode, name) {
  const withTimeout = (p, ms, what) =>
    Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout: ' + what)), ms))]);
  const until = async (cond, ms, what) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timeout: ' + what);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const opts = { forceNew: true, reconnection: false, timeout: 4000, auth: { name }, withCredentials: true };
  opts.transports = mode === 'polling' ? ['polling'] : mode === 'websocket' ? ['websocket'] : ['polling', 'websocket'];
  const s = io(server, opts);
  // The transport the session opened with (the upgrade can be over before the Socket.IO connect is answered).
  let firstTransport = null;
  s.io.once('open', () => { firstTransport = s.io.engine.transport.name; });
  const news = new Promise((r) => s.once('news', r));
  try {
    await withTimeout(new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); }), 5000, 'connect');
  } catch (e) {
    s.close();
    return { connected: false, error: String(e && e.message || e) };
  }
  try {
    if (mode === 'upgrade') {
      await until(() => s.io.engine.transport.name === 'websocket', 5000, 'the upgrade to websocket');
    }
    const ack = await withTimeout(s.emitWithAck('echo', 'hello ' + name), 5000, 'echo ack');
    const reached = await withTimeout(s.emitWithAck('publish-me', 'news for ' + name), 5000, 'publish-me ack');
    const got = await withTimeout(news, 5000, 'news');
    const transport = s.io.engine.transport.name;
    s.disconnect();
    return { connected: true, firstTransport, transport, ack, reached, news: got };
  } catch (e) {
    s.close();
    return { connected: true, error: String(e && e.message || e) };
  }
}
