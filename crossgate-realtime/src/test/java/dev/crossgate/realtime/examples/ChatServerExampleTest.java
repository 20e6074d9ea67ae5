package dev.crossgate.realtime.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import io.socket.client.Ack;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.WebSocket;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The README's example does what the README says, with the official Java client. */
@ExtendWith(LeakCheck.class)
class ChatServerExampleTest {
    private static Socket client(int port, Map<String, String> auth) {
        return IO.socket(URI.create("http://127.0.0.1:" + port), IO.Options.builder().setTransports(new String[] {WebSocket.NAME})
                .setAuth(auth).setReconnection(false).setForceNew(true).build());
    }

    @Test
    void usersInTheLobbyHearEachOtherAndStrangersAreRefused() throws Exception {
        try (RealtimeHttpServer http = ChatServerExample.chat().listen("127.0.0.1", 0)) {
            Socket ann = client(http.port(), Map.of("user", "ann"));
            Socket bob = client(http.port(), Map.of("user", "bob"));
            Socket nobody = client(http.port(), Map.of());
            try {
                CompletableFuture<Object[]> annIn = new CompletableFuture<>();
                ann.once(Socket.EVENT_CONNECT, annIn::complete);
                ann.connect();
                annIn.get(5, TimeUnit.SECONDS);
                CompletableFuture<Object[]> joined = new CompletableFuture<>();
                ann.once("joined", joined::complete);
                CompletableFuture<Object[]> said = new CompletableFuture<>();
                ann.once("said", said::complete);
                bob.connect();
                assertThat(joined.get(5, TimeUnit.SECONDS)[0]).isEqualTo("bob");
                CompletableFuture<Object[]> ack = new CompletableFuture<>();
                bob.emit("say", new Object[] {"hi ann"}, (Ack) ack::complete);
                assertThat(ack.get(5, TimeUnit.SECONDS)[0]).isEqualTo("delivered");
                assertThat(said.get(5, TimeUnit.SECONDS)).containsExactly("bob", "hi ann");
                CompletableFuture<Object[]> refused = new CompletableFuture<>();
                nobody.once(Socket.EVENT_CONNECT_ERROR, refused::complete);
                nobody.connect();
                JSONObject e = (JSONObject) refused.get(5, TimeUnit.SECONDS)[0];
                assertThat(e.getJSONObject("data").getString("reason")).isEqualTo("auth.missing");
            } finally {
                ann.close();
                bob.close();
                nobody.close();
            }
        }
    }
}
