package dev.crossgate.realtime.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One text message for many sessions (a broadcast), encoded once. Server-to-client WebSocket frames are not
 * masked, so every WebSocket session gets the same frame bytes (header and payload, built once and shared);
 * polling sessions get the text in their next payload. Sessions are grouped by event loop, so a broadcast
 * to thousands of sessions is one task per loop, not one per session, and flushes are consolidated per
 * connection ({@link #writeOnLoop}).
 */
public final class SharedMessage {
    private final String text;
    private final ByteBuf frame;

    private SharedMessage(String text) {
        this.text = text;
        this.frame = textFrame("4" + text);
    }

    /** Sends the Engine.IO message {@code text} to every session of {@code targets}; returns at once. */
    public static void send(String text, Iterable<EngineSocket> targets) {
        Map<EventLoop, List<EngineSocket>> byLoop = new IdentityHashMap<>();
        for (EngineSocket s : targets) {
            byLoop.computeIfAbsent(s.eventLoop(), l -> new ArrayList<>()).add(s);
        }
        if (byLoop.isEmpty()) {
            return;
        }
        SharedMessage m = new SharedMessage(text);
        for (Map.Entry<EventLoop, List<EngineSocket>> e : byLoop.entrySet()) {
            m.frame.retain();
            List<EngineSocket> group = e.getValue();
            Runnable task = () -> {
                try {
                    m.deliver(group);
                } finally {
                    m.frame.release();
                }
            };
            if (e.getKey().inEventLoop()) {
                task.run();
            } else {
                e.getKey().execute(task);
            }
        }
        m.frame.release();
    }

    String text() {
        return text;
    }

    /**
     * On the sessions' event loop: each session on WebSocket gets the shared frame. A WebSocket that upgraded a
     * polling session may live on another loop (it was accepted on any): those writes are handed to their loops in
     * one task per loop, not one per session.
     */
    private void deliver(List<EngineSocket> group) {
        Map<EventLoop, List<Target>> elsewhere = null;
        for (EngineSocket s : group) {
            Channel ws = s.sharedTarget(this);
            if (ws == null) {
                continue; // queued for a poll, or closed
            }
            if (ws.eventLoop().inEventLoop()) {
                writeOnLoop(ws, frame.retainedDuplicate(), s);
            } else {
                if (elsewhere == null) {
                    elsewhere = new IdentityHashMap<>();
                }
                elsewhere.computeIfAbsent(ws.eventLoop(), l -> new ArrayList<>()).add(new Target(ws, s));
            }
        }
        if (elsewhere == null) {
            return;
        }
        for (Map.Entry<EventLoop, List<Target>> e : elsewhere.entrySet()) {
            frame.retain();
            List<Target> targets = e.getValue();
            e.getKey().execute(() -> {
                try {
                    for (Target t : targets) {
                        writeOnLoop(t.ws(), frame.retainedDuplicate(), t.session());
                    }
                } finally {
                    frame.release();
                }
            });
        }
    }

    /** A WebSocket on another loop than its session, and the session (for the slow-client check). */
    private record Target(Channel ws, EngineSocket session) {}

    /** On {@code ws}'s own event loop: write now, flush once that loop's queued tasks have run. */
    private static void writeOnLoop(Channel ws, ByteBuf f, EngineSocket session) {
        ws.write(f, ws.voidPromise());
        session.checkUnsent(ws);
        Set<Channel> pending = UNFLUSHED.get();
        if (pending.isEmpty()) {
            ws.eventLoop().execute(SharedMessage::flushPending);
        }
        pending.add(ws);
    }

    /** Connections of this event loop with broadcast frames written but not flushed. */
    private static final FastThreadLocal<Set<Channel>> UNFLUSHED = new FastThreadLocal<>() {
        @Override
        protected Set<Channel> initialValue() {
            return Collections.newSetFromMap(new IdentityHashMap<>());
        }
    };

    private static void flushPending() {
        Set<Channel> pending = UNFLUSHED.get();
        for (Channel ch : pending) {
            ch.flush();
        }
        pending.clear();
    }

    /** A complete, unmasked, final text frame (RFC 6455 section 5.2) carrying {@code payload}. */
    static ByteBuf textFrame(String payload) {
        int length = ByteBufUtil.utf8Bytes(payload);
        int header = length < 126 ? 2 : length < 65536 ? 4 : 10;
        ByteBuf b = Unpooled.directBuffer(header + length);
        b.writeByte(0x81);
        if (length < 126) {
            b.writeByte(length);
        } else if (length < 65536) {
            b.writeByte(126);
            b.writeShort(length);
        } else {
            b.writeByte(127);
            b.writeLong(length);
        }
        int written = b.writeCharSequence(payload, StandardCharsets.UTF_8);
        assert written == length;
        return b;
    }
}
