package dev.crossgate.realtime.socketio;

import java.util.List;

/** The callbacks an application registers. */
public final class Handlers {
    private Handlers() {}

    /** An event from a client: its arguments (JSON as Maps, Lists, Strings, Numbers, Booleans, null; binary as byte[]) and the ack, or null when the client wants none. */
    @FunctionalInterface
    public interface EventHandler {
        void handle(List<Object> args, Ack ack);
    }

    /** Any event from a client that has no handler of its own (as Node's {@code socket.onAny}). */
    @FunctionalInterface
    public interface AnyEventHandler {
        void handle(String event, List<Object> args, Ack ack);
    }

    /** Answers a client's event once. */
    @FunctionalInterface
    public interface Ack {
        void send(Object... args);
    }

    /** Runs before a socket joins its namespace: call {@code next.accept(null)} to admit it, or pass the refusal. */
    @FunctionalInterface
    public interface Middleware {
        void handle(SioSocket socket, java.util.function.Consumer<ConnectError> next);
    }

    /** A refused connection: the client's {@code connect_error} gets {@code message} and {@code data}. */
    public record ConnectError(String message, Object data) {}

    @FunctionalInterface
    public interface ConnectionHandler {
        void connected(SioSocket socket);
    }

    @FunctionalInterface
    public interface DisconnectHandler {
        /** {@code reason}: "client namespace disconnect", "server namespace disconnect", "transport close", "ping timeout", "transport error", "parse error", "server shutting down". */
        void disconnected(String reason);
    }
}
