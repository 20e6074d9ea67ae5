package dev.crossgate.server.edge;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.stream.Stream;

/**
 * Loads at start what the accept and error paths would otherwise load lazily from a file, so that they still
 * work when the process has no descriptor left (issue 11).
 *
 * <p>Found by running {@code crossgate serve} under {@code ulimit -n 512} and opening 1024 connections: a
 * warning logged through java.util.logging (Netty's logger without SLF4J) is formatted by
 * {@link SimpleFormatter}, which calls {@code ZoneId.systemDefault()}; the first call initialises
 * {@code sun.util.calendar.ZoneInfoFile}, which opens {@code $JAVA_HOME/lib/tzdb.dat}. Under EMFILE that
 * fails, the class initialiser fails ({@code ExceptionInInitializerError}, then {@code NoClassDefFoundError}
 * on every later use), the error escapes Netty's own catch-and-log, and the event loop's thread dies: the
 * listener (and the admin listener, whose accepts run on the same loop) never serves again. The same holds
 * for a class loaded from a directory (each class is a file) or from a jar the class loader had not opened yet.
 */
final class Preload {
    private static volatile boolean done;

    private Preload() {}

    static void run() {
        if (done) {
            return;
        }
        // Time-zone data: read once, then cached for the life of the JVM.
        java.time.ZoneId.systemDefault();
        java.util.TimeZone.getDefault();
        // java.util.logging: the LogManager reads logging.properties on first use; format one warning with a
        // stack trace through every root handler's formatter (and the default one) to load what formatting needs.
        Logger root = LogManager.getLogManager().getLogger("");
        LogRecord r = new LogRecord(Level.WARNING, "preload {0}");
        r.setParameters(new Object[] {1});
        r.setLoggerName(Preload.class.getName());
        r.setThrown(new IOException("preload", new Error("cause")));
        new SimpleFormatter().format(r);
        if (root != null) {
            for (Handler h : root.getHandlers()) {
                Formatter f = h.getFormatter();
                if (f != null) {
                    f.format(r);
                }
            }
        }
        // The process's log (SLF4J bound to Logback, JsonLineEncoder; Netty logs through it too): encode one event with
        // a throwable and key-value pairs, without writing it, so that AcceptGate's "descriptor table full" line and
        // Netty's warnings need no class loaded under EMFILE.
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext lc) {
            ch.qos.logback.classic.spi.LoggingEvent e = new ch.qos.logback.classic.spi.LoggingEvent(Preload.class.getName(),
                    lc.getLogger("crossgate.preload"), ch.qos.logback.classic.Level.WARN, "preload {}",
                    new IOException("preload", new Error("cause")), new Object[] {1});
            e.addKeyValuePair(new org.slf4j.event.KeyValuePair("n", 1));
            new dev.crossgate.server.observe.JsonLineEncoder().encode(e);
            org.slf4j.LoggerFactory.getLogger("crossgate.preload").isWarnEnabled();
        }
        ClassLoader loader = Preload.class.getClassLoader();
        // Looking up a resource that does not exist walks the whole class path, which opens every jar on it;
        // the class loader keeps them open, so a class first needed under EMFILE is read from an open jar.
        loader.getResource("dev/crossgate/preload/absent");
        // Crossgate's own classes, when they are files in a directory (a development or test run; a packaged
        // jar is open already): loaded, not initialised.
        for (Class<?> c : List.of(Preload.class, dev.crossgate.realtime.net.Transport.class, dev.crossgate.cors.CorsPolicy.class)) {
            loadDirectory(c, loader);
        }
        done = true;
    }

    private static void loadDirectory(Class<?> c, ClassLoader loader) {
        Path root;
        try {
            var source = c.getProtectionDomain().getCodeSource();
            if (source == null) {
                return;
            }
            root = Path.of(source.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException | SecurityException e) {
            return;
        }
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().equals("module-info.class")).forEach(p -> {
                String rel = root.relativize(p).toString();
                String name = rel.substring(0, rel.length() - ".class".length()).replace(java.io.File.separatorChar, '.');
                try {
                    Class.forName(name, false, loader);
                } catch (ClassNotFoundException | LinkageError e) {
                    // a class of an optional dependency that is absent: never needed on this path
                }
            });
        } catch (IOException e) {
            // best effort: a class left out is loaded when first used, as before
        }
    }
}
