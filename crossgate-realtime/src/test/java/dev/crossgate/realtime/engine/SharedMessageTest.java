package dev.crossgate.realtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The broadcast frame built by hand decodes, as a client's decoder sees it, to the same text at every length boundary. */
@ExtendWith(LeakCheck.class)
class SharedMessageTest {
    @Test
    void framesOfEveryLengthFormDecodeToTheirText() {
        for (int n : new int[] {0, 1, 124, 125, 126, 127, 65_534, 65_535, 65_536, 200_000}) {
            // Multi-byte characters: the length in the header is in bytes, not characters.
            String text = "é".repeat(n / 2) + "x".repeat(n % 2);
            ByteBuf frame = SharedMessage.textFrame(text);
            // A client's decoder: server frames are unmasked.
            EmbeddedChannel client = new EmbeddedChannel(new WebSocket13FrameDecoder(
                    WebSocketDecoderConfig.newBuilder().expectMaskedFrames(false).maxFramePayloadLength(1 << 20).build()));
            assertThat(client.writeInbound(frame)).isTrue();
            TextWebSocketFrame f = client.readInbound();
            assertThat(f.isFinalFragment()).isTrue();
            assertThat(f.text()).isEqualTo(text);
            assertThat((Object) client.readInbound()).isNull();
            f.release();
            client.finishAndReleaseAll();
        }
    }
}
