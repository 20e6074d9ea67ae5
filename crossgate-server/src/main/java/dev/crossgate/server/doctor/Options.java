package dev.crossgate.server.doctor;

import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;

/**
 * What the doctor probes and how long it may take.
 *
 * @param url          the deployment's URL (http or https); its path is the route probed for CORS
 * @param origins      the origins a browser would send (the CORS and hostile-origin checks need at least one)
 * @param method       the method of the actual request (and the preflight's Access-Control-Request-Method)
 * @param headers      request headers the application sends, as name, value pairs
 * @param credentials  whether requests carry cookies (fetch credentials: "include")
 * @param wsPath       a WebSocket path to probe, or null
 * @param wsProtocols  subprotocols to offer on the WebSocket, or empty
 * @param socketIoPath the Socket.IO path to probe, or null
 * @param token        a bearer token sent as Authorization where a probe should be let in, or null
 * @param timeout      each probe's deadline (connect, and each read)
 * @param wsHold       how long the WebSocket is held open without traffic (to expose proxy idle timeouts)
 * @param deadline     the whole run's deadline
 * @param trust        certificates trusted besides the platform's (a private CA), or empty
 * @param resolve      addresses to use for a host name instead of DNS (as curl's --resolve), or empty
 * @param routes       further paths to probe with the first origin, and whether the configuration allows it there
 */
public record Options(URI url, List<String> origins, String method, List<String[]> headers, boolean credentials, String wsPath,
                      List<String> wsProtocols, String socketIoPath, String token, Duration timeout, Duration wsHold, Duration deadline,
                      List<X509Certificate> trust, java.util.Map<String, List<java.net.InetAddress>> resolve, List<Route> routes) {
    /** A path the configuration routes, and whether its CORS policy allows the first origin. */
    public record Route(String path, boolean allowed) {}

    public Options {
        origins = List.copyOf(origins);
        headers = List.copyOf(headers);
        wsProtocols = List.copyOf(wsProtocols);
        trust = List.copyOf(trust);
        resolve = java.util.Map.copyOf(resolve);
        routes = List.copyOf(routes);
    }

    /** The defaults for a URL: GET, no origin, no WebSocket or Socket.IO path, 5 s per probe, 70 s hold, 3 min in all. */
    public static Options of(URI url) {
        return new Options(url, List.of(), "GET", List.of(), false, null, List.of(), null, null, Duration.ofSeconds(5),
                Duration.ofSeconds(70), Duration.ofMinutes(3), List.of(), java.util.Map.of(), List.of());
    }

    public Options withOrigins(List<String> o) {
        return new Options(url, o, method, headers, credentials, wsPath, wsProtocols, socketIoPath, token, timeout, wsHold, deadline, trust, resolve, routes);
    }

    public Options withMethod(String m, List<String[]> h, boolean creds) {
        return new Options(url, origins, m, h, creds, wsPath, wsProtocols, socketIoPath, token, timeout, wsHold, deadline, trust, resolve, routes);
    }

    public Options withWebSocket(String path, List<String> protocols, Duration hold) {
        return new Options(url, origins, method, headers, credentials, path, protocols, socketIoPath, token, timeout, hold, deadline, trust, resolve, routes);
    }

    public Options withSocketIo(String path) {
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, path, token, timeout, wsHold, deadline, trust, resolve, routes);
    }

    public Options withToken(String t) {
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, socketIoPath, t, timeout, wsHold, deadline, trust, resolve, routes);
    }

    public Options withTimeouts(Duration probe, Duration all) {
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, socketIoPath, token, probe, wsHold, all, trust, resolve, routes);
    }

    /** Uses these addresses for {@code host} instead of asking DNS. */
    public Options withResolve(String host, List<java.net.InetAddress> addresses) {
        java.util.Map<String, List<java.net.InetAddress>> m = new java.util.HashMap<>(resolve);
        m.put(host.toLowerCase(java.util.Locale.ROOT), List.copyOf(addresses));
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, socketIoPath, token, timeout, wsHold, deadline, trust, m, routes);
    }

    public Options withRoutes(List<Route> r) {
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, socketIoPath, token, timeout, wsHold, deadline, trust,
                resolve, r);
    }

    public Options withTrust(List<X509Certificate> certificates) {
        return new Options(url, origins, method, headers, credentials, wsPath, wsProtocols, socketIoPath, token, timeout, wsHold, deadline,
                certificates, resolve, routes);
    }
}
