package dev.crossgate.realtime.net;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.Locale;

/**
 * The socket transport of every listener and upstream connection: Linux's epoll through Netty's native
 * transport when its library loads (no selector bookkeeping or channel locks per read and write), Java NIO
 * otherwise. {@code -Dcrossgate.transport=nio} forces NIO; {@code epoll} insists on epoll and fails with
 * the reason when it cannot load.
 *
 * <p>{@code io_uring} (Netty 4.2.18's transport; Linux 5.10+ with io_uring enabled) can be chosen by name for
 * measurement only: it measured 37-45% faster here (preflights and the proxied GET, bench/profile-edge.sh's setup)
 * and passes the leak-detecting suite. Under it the request-smuggling corpus (SmugglingCorpusTest) found 89 of 198
 * shapes leaving part of a chunked request waiting at the upstream: one fault, an aborted upstream connection whose
 * close, issued while a write was still in the ring, released the descriptor but left the socket established.
 * ProxyCall now shuts the socket down before closing it, and the corpus passes under io_uring (198 of 198). It is
 * still not chosen automatically until the whole suite and bench/edge-http.sh have run with it (issue 14).
 */
public enum Transport {
    IO_URING, EPOLL, NIO;

    private static final Transport CURRENT = choose(System.getProperty("crossgate.transport", "auto"));

    public static Transport current() {
        return CURRENT;
    }

    public static Transport choose(String wanted) {
        switch (wanted.toLowerCase(Locale.ROOT)) {
            case "nio":
                return NIO;
            case "io_uring", "iouring":
                io.netty.channel.uring.IoUring.ensureAvailability(); // throws, with the cause, when io_uring is missing or disabled
                return IO_URING;
            case "epoll":
                Epoll.ensureAvailability(); // throws, with the cause, when the native library cannot load
                return EPOLL;
            case "auto":
                return Epoll.isAvailable() ? EPOLL : NIO;
            default:
                throw new IllegalArgumentException("-Dcrossgate.transport=" + wanted
                        + " is not a transport: use auto, io_uring, epoll or nio");
        }
    }

    public IoHandlerFactory ioHandlerFactory() {
        return switch (this) {
            case IO_URING -> io.netty.channel.uring.IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
    }

    public Class<? extends ServerChannel> serverChannel() {
        return switch (this) {
            case IO_URING -> io.netty.channel.uring.IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends SocketChannel> socketChannel() {
        return switch (this) {
            case IO_URING -> io.netty.channel.uring.IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }
}
