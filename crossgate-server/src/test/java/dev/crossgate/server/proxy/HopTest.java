package dev.crossgate.server.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

/** Hop-by-hop headers (RFC 9110 section 7.6.1), removed by scanning the Connection lines in place. */
class HopTest {
    @Test
    void theFixedListAndEveryHeaderNamedInConnectionGoExceptFramingAndHost() {
        HttpHeaders h = io.netty.handler.codec.http.DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders()
                .add("Connection", " keep-alive ,X-Foo,\tx-bar\t, ,Content-Length, transfer-encoding, HOST")
                .add("Connection", "close, x-baz")
                .add("Keep-Alive", "timeout=5").add("Proxy-Connection", "keep-alive").add("TE", "trailers").add("Trailer", "x")
                .add("Upgrade", "h2c").add("Proxy-Authenticate", "Basic").add("Proxy-Authorization", "Basic eA==")
                .add("X-Foo", "1").add("X-Bar", "2").add("X-Baz", "3").add("Close", "reserved").add("X-Keep", "4")
                .add("Content-Length", "0").add("Host", "api.example.com");
        Hop.removeHopByHop(h);
        assertThat(h.names()).containsExactlyInAnyOrder("X-Keep", "Content-Length", "Host");
    }

    @Test
    void aSingleKeepAliveLineRemovesOnlyTheFixedList() {
        HttpHeaders h = new DefaultHttpHeaders().add("Connection", "keep-alive").add("Keep-Alive", "timeout=5").add("Content-Type", "application/json");
        Hop.removeHopByHop(h);
        assertThat(h.names()).containsExactly("Content-Type");
    }
}
