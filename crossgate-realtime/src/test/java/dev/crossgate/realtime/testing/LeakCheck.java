package dev.crossgate.realtime.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaked a Netty buffer. Leak detection runs at the paranoid level (set for
 * every test JVM in the parent pom); leak reports are captured instead of only logged, and after the
 * class the detector is given garbage collections and fresh allocations to report what it found.
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
    private static volatile boolean installed;

    @Override
    public void beforeAll(ExtensionContext context) {
        install();
        LEAKS.clear();
    }

    public static synchronized void install() {
        if (installed) {
            return;
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
                return new ResourceLeakDetector<T>(resource, samplingInterval) {
                    @Override
                    protected void reportTracedLeak(String resourceType, String records) {
                        LEAKS.add(resourceType + " leak:" + records);
                        super.reportTracedLeak(resourceType, records);
                    }

                    @Override
                    protected void reportUntracedLeak(String resourceType) {
                        LEAKS.add(resourceType + " leak (untraced)");
                        super.reportUntracedLeak(resourceType);
                    }
                };
            }
        });
        installed = true;
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            // Leaks are reported when the detector tracks a new resource after the leaked one was collected.
            ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
            probe.release();
            ByteBuf heap = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
            heap.release();
        }
        if (!LEAKS.isEmpty()) {
            throw new AssertionError("Netty buffers leaked in " + context.getDisplayName() + ":\n" + String.join("\n\n", LEAKS));
        }
    }
}
