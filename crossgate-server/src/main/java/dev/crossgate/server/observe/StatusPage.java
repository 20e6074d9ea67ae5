package dev.crossgate.server.observe;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.config.Setting;
import dev.crossgate.server.proxy.Upstream;
import dev.crossgate.server.proxy.UpstreamGroup;
import dev.crossgate.server.realtime.Hub;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The live status page of the admin listener (issue 13): what an operator opens first. {@code GET /status} is one HTML
 * page (no external resource, readable on a phone) that reads {@code /status/events}, a server-sent event stream of
 * {@link #snapshot()} every second: requests and refusals per second by reason code over the last minutes, the origins
 * seen (allowed and refused), open connections, WebSocket tunnels and Socket.IO sessions by transport, upstream health
 * and ejections, hook latency, the cluster link, and the configuration with where each setting came from (secrets are
 * shown as the loader records them: never their value).
 */
public final class StatusPage {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Metrics metrics;
    private final Supplier<CrossgateConfig> config;
    private final Supplier<List<UpstreamGroup>> groups;
    private final Supplier<Hub> hub;

    public StatusPage(Metrics metrics, Supplier<CrossgateConfig> config, Supplier<List<UpstreamGroup>> groups, Supplier<Hub> hub) {
        this.metrics = metrics;
        this.config = config;
        this.groups = groups;
        this.hub = hub;
    }

    /** The picture of now, as the page shows it. */
    public Map<String, Object> snapshot() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("activity", metrics.activity().snapshot(300));
        Map<String, Object> open = new LinkedHashMap<>();
        open.put("connections", metrics.openConnections().get());
        open.put("websockets", metrics.gaugeValue("crossgate.websockets.open"));
        Hub h = hub.get();
        if (h != null) {
            open.put("socketio", h.engine().transportCounts());
        }
        out.put("open", open);
        List<Map<String, Object>> ups = new ArrayList<>();
        for (UpstreamGroup g : groups.get()) {
            for (Upstream u : g.upstreams()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("route", g.path());
                m.put("upstream", u.authority());
                m.put("healthy", u.healthy());
                m.put("ejected", u.ejected());
                m.put("inRotation", u.available());
                ups.add(m);
            }
        }
        out.put("upstreams", ups);
        if (h != null) {
            Map<String, Object> hooks = new LinkedHashMap<>();
            for (String hook : List.of("connect", "event", "disconnect")) {
                Map<String, Object> t = metrics.timerSummary("crossgate.realtime.hook.latency", "hook", hook);
                if (t != null) {
                    hooks.put(hook, t);
                }
            }
            out.put("hooks", hooks);
            if (h.cluster() != null) {
                var st = h.cluster().stats();
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("redis", h.cluster().address());
                c.put("connected", st.connected());
                c.put("published", st.published());
                c.put("received", st.received());
                c.put("lost", st.lost());
                out.put("cluster", c);
            }
        }
        CrossgateConfig c = config.get();
        Map<String, Object> conf = new LinkedHashMap<>();
        conf.put("profile", c.profile().id());
        List<Map<String, String>> settings = new ArrayList<>();
        for (Setting s : c.settings()) {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("path", s.path());
            m.put("value", s.value());
            m.put("source", s.source() == null ? "default" : s.source().toString());
            settings.add(m);
        }
        conf.put("settings", settings);
        out.put("config", conf);
        return out;
    }

    public String snapshotJson() {
        try {
            return JSON.writeValueAsString(snapshot());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The form a browser gets at {@code /status} when admin.token is set and it has no session yet: it posts the token to
     * {@code /status/login}, which answers with a cookie. {@code problem} (fixed text, never what was typed) says why the
     * last attempt failed.
     */
    public static String loginHtml(String problem) {
        return """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Crossgate status: sign in</title>
                <style>body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#f6f7f9;color:#1d2330}
                form{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px #0002;max-width:420px}
                input{font:inherit;width:100%;box-sizing:border-box;margin:6px 0;padding:6px} .bad{color:#b3261e}</style></head><body>
                <h1 style="font-size:18px">Crossgate status</h1>
                <form method="post" action="/status/login">
                <label for="token">This admin listener needs its token (admin.token, or CROSSGATE_ADMIN_TOKEN)</label>
                <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
                <button type="submit">Open the status page</button>
                """ + (problem == null ? "" : "<p class=\"bad\" id=\"problem\">" + problem + "</p>\n") + """
                </form></body></html>
                """;
    }

    /** The page: plain HTML, CSS and script inline, no external resource. */
    public static String html() {
        return """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Crossgate status</title>
                <style>
                body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#f6f7f9;color:#1d2330}
                h1{font-size:18px;margin:0 0 8px} h2{font-size:15px;margin:16px 0 6px}
                .cards{display:flex;flex-wrap:wrap;gap:8px} .card{background:#fff;border-radius:8px;padding:8px 12px;box-shadow:0 1px 2px #0002;min-width:120px}
                .big{font-size:22px;font-weight:600} table{border-collapse:collapse;width:100%;background:#fff}
                td,th{padding:4px 6px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top;word-break:break-all}
                .bad{color:#b3261e} .ok{color:#1b7f3a} svg{background:#fff;width:100%;height:90px;border-radius:8px}
                #state{font-size:12px;color:#667}
                </style></head><body>
                <h1>Crossgate status <span id="state">connecting…</span></h1>
                <div class="cards">
                <div class="card"><div>requests/s</div><div class="big" id="rps">–</div></div>
                <div class="card"><div>refusals/s</div><div class="big bad" id="refps">–</div></div>
                <div class="card"><div>connections</div><div class="big" id="conns">–</div></div>
                <div class="card"><div>WebSockets</div><div class="big" id="ws">–</div></div>
                <div class="card"><div>Socket.IO polling / websocket</div><div class="big" id="sio">–</div></div>
                </div>
                <h2>Requests per second (last 5 minutes)</h2><svg id="chart" viewBox="0 0 300 90" preserveAspectRatio="none"></svg>
                <h2>Refusals by reason (last 5 minutes)</h2><table id="refusals"><tr><th>reason</th><th>count</th></tr></table>
                <h2>Origins seen</h2><table id="origins"><tr><th>origin</th><th>allowed</th><th>refused</th></tr></table>
                <h2>Upstreams</h2><table id="upstreams"><tr><th>route</th><th>upstream</th><th>state</th></tr></table>
                <h2>Hooks and cluster</h2><table id="extra"></table>
                <h2>Configuration</h2><table id="config"><tr><th>setting</th><th>value</th><th>from</th></tr></table>
                <script>
                const $ = (id) => document.getElementById(id);
                const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
                const rows = (id, head, list) => { $(id).innerHTML = head + list.join(''); };
                function show(s) {
                  const a = s.activity, ex = a.exchanges, last = ex[ex.length - 2] || 0;
                  let refLast = 0, totals = [];
                  for (const [reason, series] of Object.entries(a.refusals)) {
                    refLast += series[series.length - 2] || 0;
                    totals.push([reason, series.reduce((x, y) => x + y, 0)]);
                  }
                  $('rps').textContent = last; $('refps').textContent = refLast;
                  $('conns').textContent = s.open.connections; $('ws').textContent = s.open.websockets;
                  $('sio').textContent = s.open.socketio ? s.open.socketio.polling + ' / ' + s.open.socketio.websocket : 'off';
                  const max = Math.max(1, ...ex);
                  $('chart').innerHTML = '<polyline fill="none" stroke="#3461c1" stroke-width="1.5" points="' +
                    ex.map((v, i) => i + ',' + (88 - 86 * v / max)).join(' ') + '"/>';
                  totals.sort((x, y) => y[1] - x[1]);
                  rows('refusals', '<tr><th>reason</th><th>count</th></tr>', totals.map(([r, n]) => '<tr><td class="bad">' + esc(r) + '</td><td>' + n + '</td></tr>'));
                  rows('origins', '<tr><th>origin</th><th>allowed</th><th>refused</th></tr>', a.origins.map((o) =>
                    '<tr><td>' + esc(o.origin) + '</td><td class="ok">' + o.allowed + '</td><td class="bad">' + o.refused + '</td></tr>'));
                  rows('upstreams', '<tr><th>route</th><th>upstream</th><th>state</th></tr>', s.upstreams.map((u) =>
                    '<tr><td>' + esc(u.route) + '</td><td>' + esc(u.upstream) + '</td><td class="' + (u.inRotation ? 'ok">in rotation' : 'bad">' +
                    (u.ejected ? 'ejected' : 'failing its health check')) + '</td></tr>'));
                  const extra = [];
                  for (const [hook, t] of Object.entries(s.hooks || {})) extra.push('<tr><td>hook ' + esc(hook) + '</td><td>' + t.count + ' calls, mean ' + t.meanMs + ' ms, max ' + t.maxMs + ' ms</td></tr>');
                  if (s.cluster) extra.push('<tr><td>cluster</td><td class="' + (s.cluster.connected ? 'ok' : 'bad') + '">' + esc(s.cluster.redis) + ' ' +
                    (s.cluster.connected ? 'connected' : 'down') + ', published ' + s.cluster.published + ', received ' + s.cluster.received + ', lost ' + s.cluster.lost + '</td></tr>');
                  rows('extra', '', extra.length ? extra : ['<tr><td>no hooks or cluster configured</td></tr>']);
                  rows('config', '<tr><th>setting</th><th>value</th><th>from</th></tr>', s.config.settings.map((c) =>
                    '<tr><td>' + esc(c.path) + '</td><td>' + esc(c.value) + '</td><td>' + esc(c.source) + '</td></tr>'));
                }
                const events = new EventSource('/status/events' + location.search);
                events.onmessage = (e) => { $('state').textContent = 'live'; show(JSON.parse(e.data)); };
                events.onerror = () => { $('state').textContent = 'reconnecting…'; };
                </script></body></html>
                """;
    }
}
