package dev.crossgate.server.cli;

import java.util.concurrent.CountDownLatch;

/**
 * Waits for SIGTERM or SIGINT, so that a command can drain and exit 0 (a JVM shutdown hook would exit 143), and
 * turns SIGHUP into a configuration reload: the JVM's default for HUP is to exit (129), which an operator who types
 * {@code kill -HUP} out of habit never wants.
 */
final class Signals {
    private Signals() {}

    static void awaitTermination() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> stop.countDown());
        }
        stop.await();
    }

    /**
     * Runs {@code action} on each SIGHUP (on the JVM's signal thread, one at a time per signal) instead of exiting.
     * Nothing thrown by it ends the process.
     */
    static void onHangup(Runnable action) {
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> {
            try {
                action.run();
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger("crossgate.serve").error("SIGHUP: {}",
                        String.valueOf(e.getMessage()).lines().findFirst().orElse(e.getClass().getSimpleName()));
            }
        });
    }
}
