package dev.crossgate.bench.ws;

import java.util.Arrays;

/**
 * Entry point of {@code crossgate-bench-ws.jar}: {@code echo-server} runs {@link EchoServer}, {@code load}
 * runs {@link LoadClient} (tools of {@code bench/ws-echo.sh}); {@code socketio-server} runs
 * {@link SocketIoServerMain} (for {@code bench/socketio-memory.sh}); {@code socketio-broadcast-server} runs
 * {@link SocketIoBroadcastMain} (for {@code bench/socketio-broadcast.sh}, and with {@code --redis} as a cluster node
 * for {@code bench/socketio-cluster.sh}).
 */
public final class Main {
    private static final String USAGE = """
            usage: java -jar crossgate-bench-ws.jar echo-server --port N [--threads 1]
                   java -jar crossgate-bench-ws.jar socketio-server --port N
                   java -jar crossgate-bench-ws.jar socketio-broadcast-server --port N [--redis redis://127.0.0.1:PORT]
                   java -jar crossgate-bench-ws.jar load --url ws://127.0.0.1:PORT/PATH [--connections 50] [--size 64]
                        [--warmup 0] [--duration 10] [--threads 1] [--origin https://app.example.com]""";

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            fail("no command");
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0]) {
                case "echo-server" -> EchoServer.main(rest);
                case "load" -> LoadClient.main(rest);
                case "socketio-server" -> SocketIoServerMain.main(rest);
                case "socketio-broadcast-server" -> SocketIoBroadcastMain.main(rest);
                default -> fail("unknown command " + args[0]);
            }
        } catch (IllegalArgumentException e) {
            fail(e.getMessage());
        }
    }

    private static void fail(String problem) {
        System.err.println("crossgate-bench-ws: " + problem);
        System.err.println(USAGE);
        System.exit(2);
    }
}
