package dev.crossgate.realtime.engine;

import java.security.SecureRandom;
import java.util.Base64;

/** Unguessable identifiers (Engine.IO session ids, Socket.IO socket ids, recovery session ids): 120 random bits, base64url. */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {}

    public static String random() {
        byte[] b = new byte[15];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
