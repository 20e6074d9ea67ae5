package dev.crossgate.server.ws;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * What the Autobahn|Testsuite Maven plugin starts: Crossgate on the port it names, tunnelling every path
 * to a WebSocket echo server (Netty's RFC 6455 implementation, permessage-deflate on offer, so that the
 * compression cases run end to end through the edge). The plugin connects to the address of this
 * machine's host name; the edge listens there only when that address is a loopback one.
 */
public final class AutobahnProxyMain {
    private AutobahnProxyMain() {}

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        InetAddress local = InetAddress.getLocalHost();
        if (!local.isLoopbackAddress()) {
            throw new IllegalStateException("the Autobahn plugin will connect to " + local.getHostAddress() + " (this host name's address),"
                    + " which is not a loopback address; network tests here only listen on loopback. Map the host name to"
                    + " 127.0.0.1 in /etc/hosts to run them.");
        }
        WsEchoUpstream upstream = new WsEchoUpstream();
        Path dir = Files.createTempDirectory("crossgate-autobahn");
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: dev
                listen: %s:%d
                upstream: http://127.0.0.1:%d
                hosts: ["%s", localhost, 127.0.0.1]
                admin:
                  enabled: false
                log:
                  access: false
                websocket:
                  paths: [/]
                  missingOrigin: allow
                  pingInterval: 60s
                  idleTimeout: 300s
                  maxFrameSize: 32MB
                  maxMessageSize: 32MB
                """.formatted(local.getHostAddress(), port, upstream.port(), local.getHostAddress()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        new EdgeServer(c, AccessLog.discarding()).start();
        System.out.println("crossgate (Autobahn): ws://" + local.getHostAddress() + ":" + port + " -> ws://127.0.0.1:" + upstream.port());
    }
}
