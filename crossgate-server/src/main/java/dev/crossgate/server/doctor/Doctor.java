package dev.crossgate.server.doctor;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * {@code crossgate doctor}: probes a deployment from outside, as a browser and a mobile app would, and says
 * what is wrong and how to fix it. The checks run in the order of {@link Report#CHECKS}; every probe has
 * {@code timeout}, the whole run {@code deadline}.
 */
public final class Doctor {
    /** A certificate expiring sooner than this is a warning. */
    static final Duration EXPIRY_WARNING = Duration.ofDays(14);

    private Doctor() {}

    /** Told of each verdict as soon as it is known, and of long waits (the WebSocket hold), while the run goes on. */
    public interface Progress {
        Progress NONE = new Progress() {
            @Override
            public void verdict(Finding f) {}

            @Override
            public void waiting(String what) {}
        };

        void verdict(Finding f);

        void waiting(String what);
    }

    public static Report run(Options o) {
        return run(o, Progress.NONE);
    }

    /** A findings list (thread-safe) that tells {@code progress} of each verdict as it is added. */
    private static List<Finding> told(Progress progress) {
        return Collections.synchronizedList(new ArrayList<>() {
            @Override
            public boolean add(Finding f) {
                progress.verdict(f);
                return super.add(f);
            }
        });
    }

    public static Report run(Options o, Progress progress) {
        Instant started = Instant.now();
        long deadline = System.nanoTime() + o.deadline().toNanos();
        List<Finding> findings = told(progress);
        URI url = o.url();
        String scheme = url.getScheme().toLowerCase(Locale.ROOT);
        int port = url.getPort() > 0 ? url.getPort() : scheme.equals("https") ? 443 : 80;
        String host = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1) : url.getHost();

        // 1. DNS: every address, each probed on its own.
        List<InetAddress> given = o.resolve().get(host.toLowerCase(Locale.ROOT));
        List<InetAddress> addresses = given != null ? given : resolve(host, findings);
        if (given != null) {
            findings.add(Finding.pass("dns", host, "dns.given", host + " resolved as given (--resolve): " + given.stream()
                    .map(InetAddress::getHostAddress).toList() + "; each is probed on its own", List.of()));
        }
        Http.Target primary = null;
        java.util.Map<String, Integer> statusByAddress = new java.util.LinkedHashMap<>();
        for (InetAddress a : addresses) {
            Http.Target t = new Http.Target(scheme, host, port, a);
            if (connectAndTls(o, t, findings)) {
                if (primary == null) {
                    primary = t;
                }
                // The same request on every address: behind one name, they should answer alike.
                try {
                    Probe ap = new Probe(o, t, findings, deadline);
                    statusByAddress.put(t.where(), ap.request("GET", ap.pathAndQuery(), Probe.headers("Accept", "*/*"), null).status());
                } catch (IOException e) {
                    statusByAddress.put(t.where(), -1);
                }
            }
        }
        if (new java.util.HashSet<>(statusByAddress.values()).size() > 1) {
            List<String> ev = new ArrayList<>();
            statusByAddress.forEach((a, st) -> ev.add("GET " + url.getRawPath() + " on " + a + " -> " + (st < 0 ? "no answer" : "HTTP " + st)));
            findings.add(Finding.fail("dns", "addresses agree", "dns.addresses_differ", "the addresses of " + host + " answer the same request"
                    + " differently: clients resolving to one or the other see different servers", ev,
                    "make every address serve the same deployment, or remove the stale one from DNS (an old AAAA record is common)"));
        } else if (statusByAddress.size() > 1) {
            findings.add(Finding.pass("dns", "addresses agree", "dns.addresses_agree", statusByAddress.size() + " addresses answer alike",
                    List.of()));
        }
        if (primary == null) {
            if (!addresses.isEmpty()) {
                findings.add(Finding.fail("dns", "reachable", "net.unreachable", "no address of " + host + " accepted a connection on port " + port,
                        List.of(), "check that the server listens on " + port + " and that firewalls let it through"));
            }
            return new Report(url.toString(), started, Duration.between(started, Instant.now()), findings, false);
        }
        Probe p = new Probe(o, primary, findings, deadline);

        // 2. Redirects, 3. Host handling.
        redirects(p);
        host(p);

        // 4. The WebSocket, started now: its hold (70 s by default) runs while the other checks do.
        Thread ws = null;
        String firstOrigin = o.origins().isEmpty() ? null : o.origins().get(0);
        List<Finding> wsFindings = told(progress);
        if (o.wsPath() != null) {
            Probe wp = new Probe(o, primary, wsFindings, deadline);
            wp.progress = progress;
            ws = new Thread(() -> new WsChecks(wp).run(o.wsPath(), firstOrigin), "doctor-websocket");
            ws.setDaemon(true);
            ws.start();
        }

        // 5. CORS, 6. CORS on errors, 7. hostile origins.
        CorsChecks cors = new CorsChecks(p);
        List<String> allowed = cors.preflightAndActual();
        cors.routes(firstOrigin);
        if (!o.origins().isEmpty()) {
            cors.onErrors(allowed.isEmpty() ? null : allowed.get(0));
        }
        cors.hostile(firstOrigin);
        String wsHostilePath = o.wsPath() != null ? o.wsPath() : o.socketIoPath() != null
                ? (o.socketIoPath().endsWith("/") ? o.socketIoPath() : o.socketIoPath() + "/") + "?EIO=4&transport=websocket" : null;
        if (wsHostilePath != null) {
            new WsChecks(p).hostile(wsHostilePath, firstOrigin);
        }

        // 8. Socket.IO.
        if (o.socketIoPath() != null) {
            new SocketIoChecks(p).run(o.socketIoPath(), firstOrigin);
        }

        // 9. Mobile.
        mobile(p);

        boolean late = false;
        if (ws != null) {
            try {
                ws.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000 + 1000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            late = ws.isAlive();
            synchronized (wsFindings) {
                findings.addAll(wsFindings);
            }
        }
        List<Finding> ordered = new ArrayList<>();
        synchronized (findings) {
            for (String check : Report.CHECKS) {
                for (Finding f : findings) {
                    if (f.check().equals(check)) {
                        ordered.add(f);
                    }
                }
            }
        }
        return new Report(url.toString(), started, Duration.between(started, Instant.now()), ordered, late || System.nanoTime() > deadline);
    }

    // ---------------------------------------------------------------- DNS, TCP and TLS

    private static List<InetAddress> resolve(String host, List<Finding> findings) {
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            List<String> ev = new ArrayList<>();
            int v4 = 0;
            int v6 = 0;
            for (InetAddress a : all) {
                boolean six = a instanceof java.net.Inet6Address;
                ev.add((six ? "AAAA " : "A ") + a.getHostAddress());
                if (six) {
                    v6++;
                } else {
                    v4++;
                }
            }
            findings.add(Finding.pass("dns", host, "dns.resolved", Http.isIpLiteral(host) ? host + " is an address" : host + " has " + v4
                    + " A and " + v6 + " AAAA record(s); each is probed on its own", ev));
            return List.of(all);
        } catch (UnknownHostException e) {
            findings.add(Finding.fail("dns", host, "dns.not_found", host + " does not resolve: " + e.getMessage(), List.of(),
                    "create the DNS record, or check the name"));
            return List.of();
        }
    }

    /** Connects to one address (and TLS when https): the findings of dns (reachability) and tls; true when usable. */
    private static boolean connectAndTls(Options o, Http.Target t, List<Finding> findings) {
        try (Http.Connection c = Http.connect(t, o.timeout(), o.trust(), List.of("h2", "http/1.1"))) {
            findings.add(Finding.pass("dns", "connect " + t.where(), "net.connected", "TCP connect in " + c.connectNanos / 1_000_000 + " ms",
                    List.of()));
            if (c.tls != null) {
                tls(t, c.tls, findings);
            }
            return true;
        } catch (javax.net.ssl.SSLException e) {
            findings.add(Finding.fail("tls", "handshake " + t.where(), "tls.handshake_failed", "the TLS handshake failed: " + e.getMessage(),
                    List.of(), "check the server's certificate and TLS configuration (TLS 1.2 or 1.3)"));
            return false;
        } catch (IOException e) {
            findings.add(Finding.fail("dns", "connect " + t.where(), "net.connect_failed", "could not connect to " + t.where() + ": "
                    + e.getMessage(), List.of(), "an address in DNS that does not answer fails some clients only: remove it from DNS or make it"
                    + " serve (IPv6 included)"));
            return false;
        }
    }

    private static void tls(Http.Target t, Http.TlsInfo tls, List<Finding> findings) {
        String where = t.where();
        X509Certificate leaf = tls.chain().isEmpty() ? null : tls.chain().get(0);
        List<String> ev = new ArrayList<>();
        ev.add("protocol " + tls.protocol() + ", cipher " + tls.cipher() + ", ALPN " + (tls.alpn() == null ? "none" : tls.alpn()) + ", SNI " + t.host());
        for (X509Certificate c : tls.chain()) {
            ev.add("certificate " + c.getSubjectX500Principal().getName() + " (issuer " + c.getIssuerX500Principal().getName() + ", until "
                    + c.getNotAfter().toInstant() + ")");
        }
        if (leaf == null) {
            findings.add(Finding.fail("tls", "certificate " + where, "tls.no_certificate", "the server sent no certificate", ev, null));
            return;
        }
        Instant notAfter = leaf.getNotAfter().toInstant();
        Instant now = Instant.now();
        boolean problem = false;
        boolean dates = false;
        if (notAfter.isBefore(now)) {
            dates = true;
            findings.add(Finding.fail("tls", "certificate " + where, "tls.expired", "the certificate expired on " + notAfter, ev,
                    "renew it (certbot renew, or your provider's automatic renewal)"));
            problem = true;
        } else if (leaf.getNotBefore().toInstant().isAfter(now)) {
            dates = true;
            findings.add(Finding.fail("tls", "certificate " + where, "tls.not_yet_valid", "the certificate is valid only from "
                    + leaf.getNotBefore().toInstant(), ev, "check the server's clock and the certificate"));
            problem = true;
        } else if (notAfter.isBefore(now.plus(EXPIRY_WARNING))) {
            findings.add(Finding.warn("tls", "certificate " + where, "tls.expires_soon", "the certificate expires on " + notAfter + ", in "
                    + (Duration.between(now, notAfter).toHours() + 23) / 24 + " days", ev, "renew it now, and check that renewal is automatic"));
        }
        if (!matchesHost(leaf, t.host())) {
            findings.add(Finding.fail("tls", "certificate " + where, "tls.hostname_mismatch", "the certificate is not for " + t.host()
                    + " (it names " + names(leaf) + ")", ev, "serve a certificate whose subject alternative names include " + t.host()
                    + (Http.isIpLiteral(t.host()) ? "" : ", and check SNI routing on the server")));
            problem = true;
        }
        // A chain refused only for its dates was reported as such above: a browser says ERR_CERT_DATE_INVALID, not "untrusted".
        if (tls.trustProblem() != null && !(tls.dateOnly() && dates)) {
            boolean selfSigned = leaf.getSubjectX500Principal().equals(leaf.getIssuerX500Principal());
            findings.add(Finding.fail("tls", "certificate " + where, selfSigned ? "tls.self_signed" : "tls.untrusted",
                    (selfSigned ? "the certificate is self-signed" : "the certificate chain is not trusted") + ": " + tls.trustProblem(), ev,
                    selfSigned ? "use a certificate from a public CA (Let's Encrypt); for a private CA, give it with --ca"
                            : "send the whole chain (leaf and intermediates), issued by a CA browsers trust"));
            problem = true;
        }
        if ("TLSv1".equals(tls.protocol()) || "TLSv1.1".equals(tls.protocol())) {
            findings.add(Finding.fail("tls", "protocol " + where, "tls.protocol_outdated", tls.protocol() + " is refused by current browsers",
                    ev, "enable TLS 1.2 and 1.3"));
            problem = true;
        }
        if (!problem) {
            findings.add(Finding.pass("tls", "certificate " + where, "tls.ok", "trusted certificate for " + t.host() + " until " + notAfter + ", "
                    + tls.protocol() + (tls.alpn() == null ? "" : ", ALPN " + tls.alpn()), ev));
        }
        if (tls.alpn() == null) {
            findings.add(Finding.warn("tls", "ALPN " + where, "tls.no_alpn", "the server negotiated no ALPN protocol, so browsers use HTTP/1.1",
                    ev, null));
        }
    }

    static boolean matchesHost(X509Certificate c, String host) {
        String h = host.toLowerCase(Locale.ROOT);
        try {
            if (c.getSubjectAlternativeNames() != null) {
                for (List<?> san : c.getSubjectAlternativeNames()) {
                    int type = (Integer) san.get(0);
                    String v = String.valueOf(san.get(1)).toLowerCase(Locale.ROOT);
                    if (type == 2 && dnsMatch(v, h)) {
                        return true;
                    }
                    if (type == 7 && Http.isIpLiteral(h) && sameAddress(v, h)) {
                        return true;
                    }
                }
            }
        } catch (CertificateParsingException e) {
            return false;
        }
        return false;
    }

    private static boolean sameAddress(String a, String b) {
        try {
            return InetAddress.getByName(a).equals(InetAddress.getByName(b));
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static boolean dnsMatch(String pattern, String host) {
        if (pattern.startsWith("*.")) {
            int dot = host.indexOf('.');
            return dot > 0 && host.substring(dot + 1).equals(pattern.substring(2));
        }
        return pattern.equals(host);
    }

    private static String names(X509Certificate c) {
        List<String> out = new ArrayList<>();
        try {
            if (c.getSubjectAlternativeNames() != null) {
                for (List<?> san : c.getSubjectAlternativeNames()) {
                    out.add(String.valueOf(san.get(1)));
                }
            }
        } catch (CertificateParsingException e) {
            // reported as none
        }
        return out.isEmpty() ? "no subject alternative name; " + c.getSubjectX500Principal().getName() : String.join(", ", out);
    }

    // ---------------------------------------------------------------- redirects and Host

    private static void redirects(Probe p) {
        List<String> chain = new ArrayList<>();
        URI current = p.url;
        Http.Target target = p.target; // hops stay on the same origin (others are reported, not followed)
        for (int hop = 0; hop < 10; hop++) {
            Http.Response r;
            String pq = (current.getRawPath() == null || current.getRawPath().isEmpty() ? "/" : current.getRawPath())
                    + (current.getRawQuery() == null ? "" : "?" + current.getRawQuery());
            try {
                r = p.request("GET", pq, target.authority(), Probe.headers("Accept", "*/*"), null, null);
            } catch (IOException e) {
                p.add(Finding.fail("redirects", current.toString(), "redirect.no_answer", "no answer from " + current + ": " + e.getMessage(), chain, null));
                return;
            }
            chain.add(current + " -> HTTP " + r.status() + (r.header("location") == null ? "" : " Location: " + r.header("location")));
            if (r.status() < 300 || r.status() >= 400 || r.header("location") == null) {
                if (hop == 0) {
                    p.add(Finding.pass("redirects", p.url.toString(), "redirect.none", "answered HTTP " + r.status() + " without a redirect", chain));
                } else {
                    p.add(Finding.warn("redirects", p.url.toString(), "redirect.chain", hop + " redirect(s) before the answer: every request"
                            + " pays for them, and a preflight cannot follow any (PreflightDisallowedRedirect)", chain,
                            "point clients at the final URL: " + current));
                }
                return;
            }
            URI next = current.resolve(r.header("location").trim());
            if (current.getScheme().equalsIgnoreCase("https") && "http".equalsIgnoreCase(next.getScheme())) {
                p.add(Finding.fail("redirects", p.url.toString(), "redirect.downgrade", "a redirect goes from https to http (" + next
                        + "): browsers block it as mixed content and a network attacker can read the traffic", chain,
                        "redirect to https only (behind a TLS proxy: trust its X-Forwarded-Proto, such as Django's SECURE_PROXY_SSL_HEADER)"));
                return;
            }
            if (next.getHost() == null || !next.getHost().equalsIgnoreCase(p.url.getHost())
                    || (next.getPort() > 0 ? next.getPort() : defaultPort(next)) != (current.getPort() > 0 ? current.getPort() : defaultPort(current))
                    || !next.getScheme().equalsIgnoreCase(current.getScheme())) {
                p.add(Finding.warn("redirects", p.url.toString(), "redirect.elsewhere", "redirected to another origin (" + next
                        + "); not followed", chain, "point clients at the final URL"));
                return;
            }
            current = next;
        }
        p.add(Finding.fail("redirects", p.url.toString(), "redirect.loop", "more than 10 redirects", chain, "fix the redirect loop"));
    }

    private static int defaultPort(URI u) {
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static void host(Probe p) {
        List<String> sent = new ArrayList<>();
        List<String[]> h = Probe.headers("Accept", "*/*", "Authorization", p.options.token() == null ? null : "Bearer " + p.options.token());
        Http.Response real;
        try {
            real = p.request("GET", p.pathAndQuery(), h, sent);
        } catch (IOException e) {
            p.add(Finding.warn("host", p.target.authority(), "host.not_probed", "Host handling could not be probed: " + e.getMessage(), sent, null));
            return;
        }
        p.add(Finding.pass("host", p.target.authority(), "host.served", "the real host is answered HTTP " + real.status(),
                Probe.join(sent, real.evidence("x-crossgate-reason", "server"))));
        String wrongHost = "crossgate-doctor-wrong-host.invalid";
        List<String> sent2 = new ArrayList<>();
        Http.Response wrong;
        try {
            wrong = p.request("GET", p.pathAndQuery(), wrongHost, h, null, sent2);
        } catch (IOException e) {
            // No answer at all for an unknown host (nginx's return 444): refused.
            p.add(Finding.pass("host", wrongHost, "host.wrong_host_refused", "a wrong Host is refused: the connection was closed without an"
                    + " answer (" + e.getMessage() + ")", sent2));
            return;
        }
        List<String> ev = Probe.join(sent2, wrong.evidence("x-crossgate-reason", "server"));
        if (servedAlike(real, wrong)) {
            p.add(Finding.fail("host", wrongHost, "host.any_host_served", "a request for another host name was answered like the real one"
                    + " (HTTP " + wrong.status() + "): the server answers any Host (ALLOWED_HOSTS = ['*'], a default server), which enables"
                    + " DNS rebinding and cache poisoning through Host", ev,
                    "list the served hosts (Crossgate: hosts; Django: ALLOWED_HOSTS) and refuse the rest (nginx: a default server with"
                            + " return 444)"));
        } else {
            p.add(Finding.pass("host", wrongHost, "host.wrong_host_refused", "a wrong Host is refused (HTTP " + wrong.status() + ")", ev));
        }
    }

    /**
     * Whether an answer for another Host is the site itself: a success or redirect, or the very answer the real
     * Host got (the same status and body, such as the application's own 401 on a route that needs a token).
     */
    static boolean servedAlike(Http.Response real, Http.Response other) {
        if (other.status() >= 200 && other.status() < 400) {
            return true;
        }
        return other.status() == real.status() && java.util.Arrays.equals(other.body(), real.body());
    }

    // ---------------------------------------------------------------- mobile

    private static void mobile(Probe p) {
        String host = p.target.host();
        boolean loopback = host.equals("localhost") || host.endsWith(".localhost") || host.startsWith("127.") || host.equals("::1");
        if (p.url.getScheme().equalsIgnoreCase("http") && !loopback && !host.equals("10.0.2.2")) {
            p.add(Finding.warn("mobile", "cleartext", "mobile.cleartext", "http:// to " + host + ": Android 9+ blocks cleartext traffic"
                    + " unless network_security_config allows this domain, and iOS App Transport Security blocks it unless Info.plist has an"
                    + " exception", List.of(), "serve https (Crossgate: tls), or add a debug-only exception (Android:"
                    + " network_security_config with cleartextTrafficPermitted for the domain; iOS: NSExceptionDomains)"));
        } else if (p.url.getScheme().equalsIgnoreCase("https")) {
            p.add(Finding.pass("mobile", "cleartext", "mobile.https", "https: allowed by Android and iOS without exceptions", List.of()));
        }
        if (loopback) {
            List<String> sent = new ArrayList<>();
            String emulatorHost = "10.0.2.2" + (p.url.getPort() > 0 ? ":" + p.url.getPort() : "");
            try {
                List<String[]> h = Probe.headers("Accept", "*/*", "Authorization", p.options.token() == null ? null : "Bearer " + p.options.token());
                Http.Response real = p.request("GET", p.pathAndQuery(), h, null);
                Http.Response r = p.request("GET", p.pathAndQuery(), emulatorHost, h, null, sent);
                List<String> ev = Probe.join(sent, r.evidence("x-crossgate-reason"));
                if (!servedAlike(real, r)) {
                    p.add(Finding.warn("mobile", "Android emulator", "mobile.emulator_host_refused", "the Android emulator reaches this machine"
                            + " as 10.0.2.2, and a request with Host " + emulatorHost + " is refused (HTTP " + r.status() + ")", ev,
                            "allow the host 10.0.2.2 (Django: ALLOWED_HOSTS; Crossgate's dev profile allows it)"));
                } else {
                    p.add(Finding.pass("mobile", "Android emulator", "mobile.emulator_host", "Host " + emulatorHost + " is served (HTTP "
                            + r.status() + "): the Android emulator reaches this machine as http://" + emulatorHost + "; the iOS simulator"
                            + " uses localhost; a phone needs this machine's LAN address", ev));
                }
            } catch (IOException e) {
                p.add(Finding.skip("mobile", "Android emulator", "mobile.not_probed", e.getMessage()));
            }
        }
    }
}
