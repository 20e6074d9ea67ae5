package dev.crossgate.server.cli;

import java.util.concurrent.CountDownLatch;

/** Waits for SIGTERM or SIGINT, so that a command can drain and exit 0 (a JVM shutdown hook would exit 143). */
final class Signals {
    private Signals() {}

    static void awaitTermination() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> stop.countDown());
        }
        stop.await();
    }
}
